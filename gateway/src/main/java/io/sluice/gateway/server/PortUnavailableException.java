package io.sluice.gateway.server;

import java.util.Locale;

/**
 * A port the gateway was configured to listen on cannot be bound. Its message is the one line an operator
 * needs ({@code server.port: 8080 is already in use on 0.0.0.0; choose another with ...}), so the command
 * prints it without a stack trace.
 */
public final class PortUnavailableException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public PortUnavailableException(String setting, int port, String host, Throwable cause) {
        super(describe(setting, port, host, cause), cause);
    }

    private static String describe(String setting, int port, String host, Throwable cause) {
        String env = "SLUICE_" + setting.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
        String what = inUse(cause) ? " is already in use on " + host
                : " cannot be bound on " + host + " (" + cause.getMessage() + ")";
        return setting + ": " + port + what + "; choose another with --" + setting + "=PORT or " + env;
    }

    /**
     * Epoll reports EADDRINUSE as a NativeIoException, NIO as a BindException (also used for other errors, such
     * as an address not on this machine); both carry the system's text.
     */
    private static boolean inUse(Throwable cause) {
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t.getMessage() != null && t.getMessage().contains("Address already in use")) {
                return true;
            }
        }
        return false;
    }
}
