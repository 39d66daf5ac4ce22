package io.sluice.protocol.client;

/** A send was refused because the client's bounded send buffer stayed full; nothing of it was sent. */
public final class BufferFullException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    BufferFullException(String message) {
        super(message);
    }
}
