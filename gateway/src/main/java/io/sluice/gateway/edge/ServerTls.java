package io.sluice.gateway.edge;

import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.sluice.config.EdgeConfig;

import javax.net.ssl.SSLException;

/** The server's TLS context from {@code server.tls.cert-file} and {@code server.tls.key-file}. */
public final class ServerTls {

    private ServerTls() {
    }

    /**
     * The context, or null when TLS is off. Reads the files: call at start-up, off the event loops.
     *
     * @throws IllegalStateException naming both settings when the files cannot be used
     */
    public static SslContext load(EdgeConfig edge) {
        if (!edge.tls()) {
            return null;
        }
        try {
            return SslContextBuilder.forServer(edge.tlsCertFile().toFile(), edge.tlsKeyFile().toFile()).build();
        } catch (SSLException | IllegalArgumentException e) {
            throw new IllegalStateException("server.tls.cert-file: " + edge.tlsCertFile() + ", server.tls.key-file: "
                    + edge.tlsKeyFile() + " (expected: a readable PEM certificate chain and its unencrypted PKCS#8 "
                    + "private key; " + e.getMessage() + ")", e);
        }
    }
}
