package io.sluice.protocol.client;

/** The client was closed before the batch was acknowledged; the batch may or may not have been stored. */
public final class ClientClosedException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    ClientClosedException(String message) {
        super(message);
    }
}
