package io.sluice.gateway.binary;

import io.sluice.gateway.ingest.Admission;
import io.sluice.protocol.error.ErrorCode;
import io.sluice.protocol.frame.Batch;
import io.sluice.protocol.record.RecordCursor;
import io.sluice.storage.SeriesIds;

import java.util.BitSet;

/**
 * Puts every record of a decoded BATCH through {@link Admission}, the rules HTTP items pass too. SPEC.md
 * has no per-record rejection, so the first failing record refuses the whole batch with a non-retriable
 * NACK: {@code LIMIT_EXCEEDED} for a limit ({@code too_many_labels}, {@code cardinality_limit}),
 * {@code INVALID_RECORD} otherwise, and a message that starts with the same reason code HTTP would give
 * that item and names the record (counting samples and events) and the setting.
 */
final class BatchChecks {

    /** Why a batch was refused: the NACK's code and message, and the reason tag of the rejection counter. */
    record Refusal(ErrorCode code, String reason, String message) {
    }

    private final Admission admission;

    BatchChecks(Admission admission) {
        this.admission = admission;
    }

    /**
     * Null when every record passes, otherwise why the batch is refused. First every record's own rules
     * (each series once per batch), then cardinality, so a batch refused for a bad record makes no series
     * active.
     */
    Refusal check(String tenant, Batch batch) {
        long now = admission.now();
        BitSet checkedSeries = new BitSet();
        RecordCursor cursor = batch.cursor();
        for (int index = 0; cursor.next(); index++) {
            io.sluice.gateway.ingest.Refusal r;
            if (cursor.isSample()) {
                r = null;
                if (!checkedSeries.get(cursor.seriesId())) {
                    r = admission.checkSeries(cursor.series());
                    checkedSeries.set(cursor.seriesId());
                }
                if (r == null) {
                    r = admission.checkTimestamp(cursor.timestampMs(), now);
                }
            } else {
                r = admission.checkEvent(cursor.event(), now);
            }
            if (r != null) {
                return refusal(index, r);
            }
        }
        io.sluice.gateway.ingest.Admission.SeriesGate gate = admission.seriesOf(tenant, SeriesIds.tenantHash(tenant));
        cursor = batch.cursor();
        for (int index = 0; cursor.next(); index++) {
            if (cursor.isSample()) {
                io.sluice.gateway.ingest.Refusal r = gate.admit(cursor.series());
                if (r != null) {
                    return refusal(index, r);
                }
            }
        }
        return null;
    }

    private static Refusal refusal(int index, io.sluice.gateway.ingest.Refusal r) {
        return new Refusal(r.isLimit() ? ErrorCode.LIMIT_EXCEEDED : ErrorCode.INVALID_RECORD, r.reason(),
                r.reason() + ": record " + index + ": " + r.message() + "; the batch was refused whole");
    }
}
