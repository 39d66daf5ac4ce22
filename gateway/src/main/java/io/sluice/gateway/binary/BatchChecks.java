package io.sluice.gateway.binary;

import io.sluice.gateway.ingest.ActiveSeries;
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
     * What one connection's earlier batches settled about the series of its dictionary, so that a series sent in
     * every batch is not checked again in every batch. Its ids are the connection's: a series keeps its id, and its
     * definition, for the connection's life (SPEC.md, "Series dictionary").
     * <ul>
     *   <li>A series that passed {@link Admission#checkSeries} passes again: the rules read only the series and the
     *       gateway's settings, which do not change while it runs. One that failed is checked again each time.</li>
     *   <li>A series admitted as active is not admitted again within the same {@link #TOUCH_EVERY_MS} period: one
     *       admission a period keeps it active ({@link ActiveSeries#ACTIVE_FOR} is far longer), and the cardinality
     *       limit only ever refuses a series that is not active.</li>
     * </ul>
     * Used by the connection's event loop only, which walks each batch with the memory's one cursor (see
     * {@link RecordCursor#reset} for why it is kept).
     */
    static final class Memory {

        private final RecordCursor cursor = new RecordCursor();
        private final BitSet passed = new BitSet();
        private final BitSet admitted = new BitSet();
        private long admittedPeriod = Long.MIN_VALUE;

        private BitSet admittedIn(long now) {
            long period = Math.floorDiv(now, TOUCH_EVERY_MS);
            if (period != admittedPeriod) {
                admitted.clear();
                admittedPeriod = period;
            }
            return admitted;
        }
    }

    /** How often a connection admits each series it keeps sending as active again (refreshing its hour). */
    static final long TOUCH_EVERY_MS = 60_000;

    /**
     * Null when every record passes, otherwise why the batch is refused. First every record's own rules
     * (each series once per connection while it passes), then cardinality, so a batch refused for a bad record
     * makes no series active. {@code memory} is the connection's.
     */
    Refusal check(String tenant, Batch batch, Memory memory) {
        long now = admission.now();
        Refusal refusal = checkRecords(batch, memory, now);
        return refusal != null ? refusal : admitSeries(tenant, batch, memory, now);
    }

    /** Every record's own rules, each series once per connection while it passes. */
    private Refusal checkRecords(Batch batch, Memory memory, long now) {
        RecordCursor cursor = batch.cursor(memory.cursor);
        for (int index = 0; cursor.next(); index++) {
            io.sluice.gateway.ingest.Refusal r;
            if (cursor.isSample()) {
                r = null;
                if (!memory.passed.get(cursor.seriesId())) {
                    r = admission.checkSeries(cursor.series());
                    if (r == null) {
                        memory.passed.set(cursor.seriesId());
                    }
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
        return null;
    }

    /** Cardinality: the series the connection has not admitted as active this minute. */
    private Refusal admitSeries(String tenant, Batch batch, Memory memory, long now) {
        BitSet admitted = memory.admittedIn(now);
        Admission.SeriesGate gate = null;
        RecordCursor cursor = batch.cursor(memory.cursor);
        for (int index = 0; cursor.next(); index++) {
            if (cursor.isSample() && !admitted.get(cursor.seriesId())) {
                if (gate == null) {
                    gate = admission.seriesOf(tenant, SeriesIds.tenantHash(tenant));
                }
                io.sluice.gateway.ingest.Refusal r = gate.admit(cursor.series());
                if (r != null) {
                    return refusal(index, r);
                }
                admitted.set(cursor.seriesId());
            }
        }
        return null;
    }

    private static Refusal refusal(int index, io.sluice.gateway.ingest.Refusal r) {
        return new Refusal(r.isLimit() ? ErrorCode.LIMIT_EXCEEDED : ErrorCode.INVALID_RECORD, r.reason(),
                r.reason() + ": record " + index + ": " + r.message() + "; the batch was refused whole");
    }
}
