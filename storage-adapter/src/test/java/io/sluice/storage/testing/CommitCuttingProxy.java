package io.sluice.storage.testing;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP proxy in front of PostgreSQL that, once {@linkplain #cutNextCommit() armed}, loses the answer to the next
 * {@code COMMIT}: it hands the COMMIT (a simple-protocol Query message) to PostgreSQL and ends its side of that
 * connection after it, so PostgreSQL commits, and closes the client's connection before any answer comes back. The
 * client sees its connection fail during COMMIT and cannot tell whether the transaction committed: the case a lost
 * network or a crashed proxy makes real. Everything else passes through unchanged.
 *
 * <p>Plain threads and blocking sockets, not event loops: BlockHound then has nothing to say about them.
 */
public final class CommitCuttingProxy implements AutoCloseable {

    /** Protocol codes of startup-phase messages (no type byte) after which another startup-phase message comes. */
    private static final int SSL_REQUEST = 80877103;
    private static final int GSSENC_REQUEST = 80877104;

    private final String host;
    private final int port;
    private final ServerSocket server;
    private final AtomicBoolean armed = new AtomicBoolean();
    private final AtomicInteger cut = new AtomicInteger();
    private final List<Socket> open = new CopyOnWriteArrayList<>();

    public CommitCuttingProxy(String host, int port) throws IOException {
        this.host = host;
        this.port = port;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread accept = new Thread(this::accept, "commit-cutting-proxy");
        accept.setDaemon(true);
        accept.start();
    }

    /** The port clients connect to. */
    public int port() {
        return server.getLocalPort();
    }

    /** The next COMMIT any connection sends reaches PostgreSQL, and its answer is lost. */
    public void cutNextCommit() {
        armed.set(true);
    }

    /** How many COMMITs had their answer cut. */
    public int cut() {
        return cut.get();
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                Socket upstream = new Socket(host, port);
                open.add(client);
                open.add(upstream);
                start("proxy-to-postgres", () -> toPostgres(client, upstream));
                start("proxy-to-client", () -> copy(upstream.getInputStream(), client.getOutputStream(), client, upstream));
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private static void start(String name, Pump pump) {
        Thread t = new Thread(() -> {
            try {
                pump.run();
            } catch (IOException e) {
                // one side closed: the other is closed below
            }
        }, name);
        t.setDaemon(true);
        t.start();
    }

    private interface Pump {
        void run() throws IOException;
    }

    private static void copy(InputStream in, OutputStream out, Socket a, Socket b) throws IOException {
        try {
            in.transferTo(out);
        } finally {
            a.close();
            b.close();
        }
    }

    /** Client to PostgreSQL, message by message, watching for the COMMIT to cut. */
    private void toPostgres(Socket client, Socket upstream) throws IOException {
        DataInputStream in = new DataInputStream(client.getInputStream());
        OutputStream out = upstream.getOutputStream();
        try {
            boolean startup = true;
            while (startup) { // length, then a protocol code and the rest
                int length = in.readInt();
                byte[] body = in.readNBytes(length - 4);
                out.write(new byte[] {(byte) (length >>> 24), (byte) (length >>> 16), (byte) (length >>> 8),
                        (byte) length});
                out.write(body);
                out.flush();
                int code = ((body[0] & 0xff) << 24) | ((body[1] & 0xff) << 16) | ((body[2] & 0xff) << 8) | (body[3] & 0xff);
                startup = code == SSL_REQUEST || code == GSSENC_REQUEST;
            }
            while (true) { // a type byte, a length, the rest
                int type = in.read();
                if (type < 0) {
                    return;
                }
                int length = in.readInt();
                byte[] body = in.readNBytes(length - 4);
                out.write(type);
                out.write(new byte[] {(byte) (length >>> 24), (byte) (length >>> 16), (byte) (length >>> 8),
                        (byte) length});
                out.write(body);
                out.flush();
                if (type == 'Q' && new String(body, StandardCharsets.US_ASCII).startsWith("COMMIT")
                        && armed.compareAndSet(true, false)) {
                    client.close(); // the answer has nowhere to go
                    upstream.shutdownOutput(); // PostgreSQL reads the COMMIT, then the end of the connection
                    cut.incrementAndGet();
                    return;
                }
            }
        } finally {
            client.close();
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket s : open) {
            s.close();
        }
    }
}
