package io.sluice.storage.query;

import java.util.Map;

/** One stored series: its id, metric name and labels. */
public record SeriesInfo(long id, String name, Map<String, String> labels) {
}
