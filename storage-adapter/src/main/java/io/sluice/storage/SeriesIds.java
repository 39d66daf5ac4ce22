package io.sluice.storage;

import io.sluice.protocol.record.Series;

import java.nio.charset.StandardCharsets;

/**
 * The 64-bit id of a series within a tenant: the protocol's fingerprint of name and sorted labels, mixed
 * with a hash of the tenant. The gateway uses it to pick the Kafka partition and the storage writer as
 * the series' primary key, so both must use this one function.
 */
public final class SeriesIds {

    private SeriesIds() {
    }

    public static long of(String tenant, Series series) {
        return of(tenantHash(tenant), series);
    }

    /** As {@link #of(String, Series)} with the tenant's {@link #tenantHash} computed once for many series. */
    public static long of(long tenantHash, Series series) {
        return mix(series.fingerprint() ^ Long.rotateLeft(tenantHash, 31));
    }

    /** The partition of a series among {@code partitions}. */
    public static int partition(long seriesId, int partitions) {
        return (int) Long.remainderUnsigned(seriesId, partitions);
    }

    /** FNV-1a 64 over the tenant's UTF-8 bytes. */
    public static long tenantHash(String tenant) {
        long h = 0xcbf29ce484222325L;
        for (byte b : tenant.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return h;
    }

    /** The finaliser of SplitMix64: spreads every input bit over the output. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
