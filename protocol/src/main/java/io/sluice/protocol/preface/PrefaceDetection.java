package io.sluice.protocol.preface;

/** What the first bytes of a connection say about its protocol; see {@link Preface#detect}. */
public enum PrefaceDetection {
    /** The bytes so far are the Sluice magic: hand the connection to the binary pipeline. */
    BINARY,
    /** The bytes cannot start a Sluice connection (HTTP, TLS, anything else). */
    NOT_BINARY,
    /** Every byte so far matches the magic but fewer than {@link Preface#DETECTION_BYTES} have arrived. */
    NEED_MORE_BYTES
}
