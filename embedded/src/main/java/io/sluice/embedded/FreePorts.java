package io.sluice.embedded;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Finds loopback ports nobody listens on, for the embedded servers that need a port before they start. Every port
 * handed out is held for its owner (a server's data directory) for the life of this process: servers started at
 * once (PostgreSQL while Kafka starts) pick their ports before either binds, and the system may give the same free
 * port to both; a server started again in the same directory gets its own ports back.
 */
final class FreePorts {

    private static final Map<Integer, Path> OWNERS = new ConcurrentHashMap<>();

    private FreePorts() {
    }

    /**
     * A port free on 127.0.0.1 right now and held by no other owner of this process (another process could still
     * take it before it is bound).
     */
    static int pick(Path owner) {
        while (true) {
            int port = bindAny();
            if (hold(port, owner)) {
                return port;
            }
        }
    }

    /** Whether {@code port} can be bound on 127.0.0.1 right now and is not another owner's; it is then held. */
    static boolean claim(int port, Path owner) {
        return isFree(port) && hold(port, owner);
    }

    private static boolean hold(int port, Path owner) {
        Path holder = OWNERS.putIfAbsent(port, owner);
        return holder == null || holder.equals(owner);
    }

    private static int bindAny() {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(false);
            socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("no free loopback port", e);
        }
    }

    private static boolean isFree(int port) {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
