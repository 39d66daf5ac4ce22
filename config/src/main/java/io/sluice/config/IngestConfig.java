package io.sluice.config;

import java.time.Duration;

/**
 * Limits every ingested sample and event is checked against (HTTP and binary alike), and the bound on what
 * is accepted but not yet durable ({@code maxInFlightItems}, {@code maxInFlightBytes}), and how many tenants
 * the per-tenant ingest counters name ({@code maxMeteredTenants}), and how many decoded series an HTTP decoder keeps
 * per event loop ({@code seriesCacheEntries}).
 */
public record IngestConfig(int maxItemsPerRequest, int maxNameLength, int maxLabels, int maxLabelNameLength,
                           int maxLabelValueLength, Duration lateWindow, Duration clockSkew, int maxActiveSeries,
                           long maxInFlightItems, long maxInFlightBytes, int maxMeteredTenants,
                           int seriesCacheEntries) {
}
