package io.sluice.gateway.ingest;

import io.sluice.protocol.record.Event;
import io.sluice.protocol.record.Series;

import java.util.List;

/** What an ingest request body held: the valid items, normalised, and each refused item with its reason. */
public record ParsedBatch(List<Sample> samples, List<Event> events, List<Rejection> rejections, int total) {

    /** One valid sample; its labels are sorted by name inside {@link Series}. */
    public record Sample(int index, Series series, long timestampMs, double value) {
    }

    public int accepted() {
        return samples.size() + events.size();
    }
}
