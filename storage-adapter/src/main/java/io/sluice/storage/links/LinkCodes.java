package io.sluice.storage.links;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Turns link ids into codes: a keyed permutation of the id (a 4-round Feistel network over 42 bits,
 * keyed by the database's {@code link_code_key}) written in base62 with at least {@value #MIN_LENGTH}
 * characters. A permutation never maps two ids to one code, so codes need no collision check, and without
 * the key consecutive ids give codes that reveal nothing about each other.
 */
public final class LinkCodes {

    public static final int MIN_LENGTH = 7;
    /** Ids must stay below this (2^42, about 4.4 trillion links). */
    public static final long MAX_ID = 1L << 42;

    private static final char[] ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".toCharArray();
    private static final int HALF = 21;
    private static final long HALF_MASK = (1L << HALF) - 1;
    private static final int ROUNDS = 4;

    private final long[] roundKeys = new long[ROUNDS];

    public LinkCodes(String key) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
            for (int r = 0; r < ROUNDS; r++) {
                long k = 0;
                for (int i = 0; i < 8; i++) {
                    k = (k << 8) | (digest[r * 8 + i] & 0xff);
                }
                roundKeys[r] = k;
            }
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The code of an id in {@code [0, MAX_ID)}. */
    public String code(long id) {
        if (id < 0 || id >= MAX_ID) {
            throw new IllegalArgumentException("link id: " + id + " (expected: 0.." + (MAX_ID - 1) + ")");
        }
        return base62(permute(id));
    }

    long permute(long id) {
        long left = id >>> HALF;
        long right = id & HALF_MASK;
        for (int r = 0; r < ROUNDS; r++) {
            long next = left ^ round(right, roundKeys[r]);
            left = right;
            right = next;
        }
        return (left << HALF) | right;
    }

    private static long round(long half, long key) {
        long x = (half ^ key) * 0x9E3779B97F4A7C15L;
        x ^= x >>> 29;
        x *= 0xBF58476D1CE4E5B9L;
        return (x ^ (x >>> 32)) & HALF_MASK;
    }

    static String base62(long v) {
        char[] out = new char[12];
        int i = out.length;
        do {
            out[--i] = ALPHABET[(int) (v % 62)];
            v /= 62;
        } while (v > 0);
        while (out.length - i < MIN_LENGTH) {
            out[--i] = '0';
        }
        return new String(out, i, out.length - i);
    }
}
