package io.sluice.protocol.preface;

/** What the first bytes of a connection say about its protocol; see {@link Preface#detect}. */
public enum PrefaceDetection {
    /** The first byte is the magic's 0x89: hand the connection to the binary pipeline (which checks the rest). */
    BINARY,
    /** The bytes cannot start a Sluice connection (HTTP, TLS, anything else). */
    NOT_BINARY,
    /** No byte has arrived yet. */
    NEED_MORE_BYTES
}
