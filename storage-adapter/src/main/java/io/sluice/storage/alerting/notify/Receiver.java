package io.sluice.storage.alerting.notify;

import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Where a tenant's notifications go: an HTTP(S) URL that takes a POST of {@link #kind}'s payload
 * ({@code alertmanager}: Alertmanager's webhook format; {@code webhook}: Sluice's JSON), with extra headers.
 *
 * @param sendResolved whether resolutions are notified (of alerts notified as firing before)
 */
public record Receiver(String tenant, String name, String kind, String url, SortedMap<String, String> headers,
                       boolean sendResolved) {

    public static final String ALERTMANAGER = "alertmanager";
    public static final String WEBHOOK = "webhook";
    public static final List<String> KINDS = List.of(ALERTMANAGER, WEBHOOK);

    public Receiver {
        headers = new TreeMap<>(headers);
    }
}
