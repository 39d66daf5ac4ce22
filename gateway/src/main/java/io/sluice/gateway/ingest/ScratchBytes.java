package io.sluice.gateway.ingest;

import io.netty.util.concurrent.FastThreadLocal;

/**
 * A byte array each thread reuses for what a decoder reads a request's body into (a copy of the body, its
 * decompressed bytes) instead of allocating one per request: the decoders read those bytes only while they decode
 * and copy out whatever they keep, so the array is free again once {@code decode} returns. An event loop decodes one
 * body at a time; a decoder that needs two arrays at once holds two {@code ScratchBytes}.
 */
final class ScratchBytes {

    private final int maxBytes;
    private final FastThreadLocal<byte[]> local = new FastThreadLocal<>() {
        @Override
        protected byte[] initialValue() {
            return new byte[Math.min(maxBytes, 1 << 16)];
        }
    };

    /** @param maxBytes the largest array a thread keeps; a longer body gets an array of its own */
    ScratchBytes(int maxBytes) {
        this.maxBytes = maxBytes;
    }

    /**
     * An array of at least {@code length} bytes, holding anything: this thread's (grown to the next power of two, at
     * most {@code maxBytes}), or a new one for a length beyond that. Valid until this thread asks again.
     */
    byte[] get(int length) {
        if (length > maxBytes) {
            return new byte[length];
        }
        byte[] bytes = local.get();
        if (bytes.length < length) {
            int size = Integer.highestOneBit(length - 1) << 1;
            bytes = new byte[Math.min(maxBytes, Math.max(size, length))];
            local.set(bytes);
        }
        return bytes;
    }
}
