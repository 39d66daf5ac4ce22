package io.sluice.protocol.client;

import io.netty.buffer.ByteBufUtil;
import io.sluice.protocol.frame.SessionLimits;
import io.sluice.protocol.frame.SessionLimits.Limit;
import io.sluice.protocol.record.Event;
import io.sluice.protocol.record.RecordCursor;
import io.sluice.protocol.record.Series;
import io.sluice.protocol.record.SeriesTable;

import java.util.Map;

/**
 * Checks a batch against the limits the server announced in HELLO_OK (SPEC.md §2.2) before it is sent, so
 * that a batch the server would refuse for good fails at once with a message naming the limit, instead of
 * costing a round trip or (for the codec's limits) the connection. A series is checked when it is new to the
 * connection (one the connection already defined passed before, against the same limits); events are walked.
 * Timestamps are not checked here: the server's clock decides those.
 */
final class AnnouncedLimitCheck {

    private final int maxRecords;
    private final int maxLabels;
    private final int maxAttributes;
    private final int maxNameBytes;
    private final int maxLabelNameBytes;
    private final int maxLabelValueBytes;

    AnnouncedLimitCheck(SessionLimits limits) {
        int strings = limits.getInt(Limit.MAX_STRING_BYTES, Integer.MAX_VALUE);
        maxRecords = limits.getInt(Limit.MAX_RECORDS_PER_BLOCK, Integer.MAX_VALUE);
        maxLabels = limits.getInt(Limit.MAX_LABELS_PER_SERIES, Integer.MAX_VALUE);
        maxAttributes = limits.getInt(Limit.MAX_ATTRIBUTES_PER_EVENT, Integer.MAX_VALUE);
        maxNameBytes = Math.min(strings, limits.getInt(Limit.MAX_NAME_BYTES, Integer.MAX_VALUE));
        maxLabelNameBytes = Math.min(strings, limits.getInt(Limit.MAX_LABEL_NAME_BYTES, Integer.MAX_VALUE));
        maxLabelValueBytes = Math.min(strings, limits.getInt(Limit.MAX_LABEL_VALUE_BYTES, Integer.MAX_VALUE));
    }

    /**
     * Null when the batch fits every announced limit, otherwise which record breaks which limit. Of its series,
     * those new to the connection are checked: {@code connectionIds} is what
     * {@link io.sluice.protocol.record.RecordsWriter#idsOf} gave for the batch's series table (0 for a series the
     * connection's dictionary does not hold).
     */
    String violation(RecordBatch batch, int[] connectionIds) {
        int records = batch.sampleCount() + batch.eventCount();
        if (records > maxRecords) {
            return "the batch holds " + records + " records, the server accepts " + maxRecords + " per batch";
        }
        SeriesTable series = batch.seriesTable();
        for (int i = 0; i < connectionIds.length; i++) {
            String problem = connectionIds[i] == 0 ? violation(series.get(i)) : null;
            if (problem != null) {
                return problem;
            }
        }
        if (batch.eventCount() > 0) {
            RecordCursor cursor = batch.cursor();
            while (cursor.next()) {
                if (cursor.isEvent()) {
                    String problem = check(cursor.event());
                    if (problem != null) {
                        return problem;
                    }
                }
            }
        }
        return null;
    }

    /** Null when the series fits the announced limits, otherwise which of its strings breaks which limit. */
    String violation(Series s) {
        String problem = tooLong("metric name", s.name(), maxNameBytes);
        if (problem == null && s.labelCount() > maxLabels) {
            problem = "series " + s + " has " + s.labelCount() + " labels, the server accepts " + maxLabels;
        }
        for (int i = 0; problem == null && i < s.labelCount(); i++) {
            problem = tooLong("label name", s.labelKey(i), maxLabelNameBytes);
            if (problem == null) {
                problem = tooLong("label value", s.labelValue(i), maxLabelValueBytes);
            }
        }
        return problem;
    }

    private String check(Event e) {
        String problem = tooLong("event type", e.type(), maxNameBytes);
        if (problem == null) {
            problem = tooLong("event id", e.id(), maxLabelValueBytes);
        }
        if (problem == null) {
            problem = tooLong("event key", e.key(), maxLabelValueBytes);
        }
        if (problem == null && e.attributes().size() > maxAttributes) {
            problem = "event " + e.id() + " has " + e.attributes().size() + " attributes, the server accepts "
                    + maxAttributes;
        }
        if (problem == null) {
            for (Map.Entry<String, String> a : e.attributes().entrySet()) {
                problem = tooLong("attribute name", a.getKey(), maxLabelNameBytes);
                if (problem == null) {
                    problem = tooLong("attribute value", a.getValue(), maxLabelValueBytes);
                }
                if (problem != null) {
                    break;
                }
            }
        }
        return problem;
    }

    private static String tooLong(String what, String s, int max) {
        if (s.length() <= max / 3) {
            return null; // at most 3 UTF-8 bytes per char: cannot exceed max, no need to count
        }
        int bytes = ByteBufUtil.utf8Bytes(s);
        return bytes <= max ? null : what + " \"" + s.substring(0, Math.min(s.length(), 40)) + (s.length() > 40 ? "…" : "")
                + "\" is " + bytes + " UTF-8 bytes, the server accepts " + max;
    }
}
