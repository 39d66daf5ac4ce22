package io.sluice.gateway.binary;

import io.sluice.config.IngestConfig;
import io.sluice.gateway.ingest.ActiveSeries;
import io.sluice.gateway.ingest.Rejection;
import io.sluice.protocol.error.ErrorCode;
import io.sluice.protocol.frame.Batch;
import io.sluice.protocol.record.RecordCursor;
import io.sluice.storage.SeriesIds;

import java.util.function.LongSupplier;

/**
 * What a decoded BATCH must pass beyond the codec's own checks: every record's timestamp inside the
 * late-data window and clock-skew allowance, and every sample's series within the tenant's active-series
 * cap. SPEC.md has no per-record rejection, so the first failing record refuses the whole batch with a
 * non-retriable NACK naming the record and the setting (the same items HTTP would refuse one by one).
 */
final class BatchChecks {

    /** Why a batch was refused: the NACK's code and message, and the reason tag of the rejection counter. */
    record Refusal(ErrorCode code, String reason, String message) {
    }

    private final ActiveSeries activeSeries;
    private final long lateWindowMs;
    private final long clockSkewMs;
    private final LongSupplier nowMillis;

    BatchChecks(IngestConfig config, ActiveSeries activeSeries, LongSupplier nowMillis) {
        this.activeSeries = activeSeries;
        this.lateWindowMs = config.lateWindow().toMillis();
        this.clockSkewMs = config.clockSkew().toMillis();
        this.nowMillis = nowMillis;
    }

    /** Null when every record passes, otherwise why the batch is refused. Walks the batch once. */
    Refusal check(String tenant, Batch batch) {
        long now = nowMillis.getAsLong();
        long oldest = now - lateWindowMs;
        long newest = now + clockSkewMs;
        long tenantHash = SeriesIds.tenantHash(tenant);
        RecordCursor cursor = batch.cursor();
        for (int index = 0; cursor.next(); index++) {
            long ts = cursor.timestampMs();
            if (ts < oldest) {
                return new Refusal(ErrorCode.INVALID_RECORD, Rejection.TOO_OLD, "record " + index + " (timestamp "
                        + ts + ") is older than the late-data window of " + lateWindowMs + " ms (ingest.late-window); "
                        + "the batch was refused whole, drop that record and resend the rest");
            }
            if (ts > newest) {
                return new Refusal(ErrorCode.INVALID_RECORD, Rejection.TOO_NEW, "record " + index + " (timestamp "
                        + ts + ") is more than " + clockSkewMs + " ms ahead of the gateway's clock "
                        + "(ingest.clock-skew); the batch was refused whole");
            }
            if (cursor.isSample() && !activeSeries.admit(tenant, SeriesIds.of(tenantHash, cursor.series()))) {
                return new Refusal(ErrorCode.LIMIT_EXCEEDED, Rejection.CARDINALITY_LIMIT, "record " + index
                        + ": series " + cursor.series() + " would exceed the tenant's active-series limit "
                        + "(ingest.max-active-series); the batch was refused whole");
            }
        }
        return null;
    }
}
