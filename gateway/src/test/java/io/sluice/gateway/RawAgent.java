package io.sluice.gateway;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.sluice.protocol.TestFrames;
import io.sluice.protocol.frame.Batch;
import io.sluice.protocol.frame.Hello;
import io.sluice.protocol.frame.HelloOk;
import io.sluice.protocol.record.RecordsWriter;
import io.sluice.protocol.record.Series;
import io.sluice.protocol.record.SeriesDictionary;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A hand-driven binary agent on a plain blocking socket, for tests that must send what the real client
 * never would (too many batches, bad frames) or read each server frame as it comes.
 */
public final class RawAgent implements AutoCloseable {

    private final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;
    private final SeriesDictionary dictionary = new SeriesDictionary();

    private RawAgent(int port) throws IOException {
        socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(15_000);
        socket.setTcpNoDelay(true);
        in = new DataInputStream(socket.getInputStream());
        out = socket.getOutputStream();
    }

    public static RawAgent connect(int port) throws IOException {
        return new RawAgent(port);
    }

    /** Connects, sends the preface and HELLO with {@code key}, and expects HELLO_OK. */
    public static RawAgent session(int port, String key) throws IOException {
        RawAgent agent = connect(port);
        agent.hello(key);
        assertThat(agent.next()).isInstanceOf(HelloOk.class);
        return agent;
    }

    public void hello(String key) throws IOException {
        send(TestFrames.concat(TestFrames.preface(),
                TestFrames.encode(new Hello(1, "raw-agent", key, Map.of()))));
    }

    public void send(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    /** The frame of a BATCH of {@code n} samples of {@code metric} (values start, start+1, ...) at {@code ts}. */
    public byte[] batch(long sequence, String metric, int n, long ts, double start) {
        ByteBuf records = Unpooled.buffer();
        RecordsWriter w = new RecordsWriter(records, dictionary);
        for (int i = 0; i < n; i++) {
            w.addSample(Series.of(metric, "i", Integer.toString(i % 10)), ts, start + i);
        }
        w.finish();
        return TestFrames.encode(Batch.outbound(sequence, records, false));
    }

    /** Reads the next frame the server sent, decoded. */
    public Object next() throws IOException {
        int length = in.readInt();
        // Not a frame at all (an "HTTP/1.1 400" reads as 0x48545450): fail clearly instead of allocating it.
        assertThat(length).as("frame length 0x%s", Integer.toHexString(length)).isBetween(0, 16 << 20);
        byte[] frame = new byte[6 + length];
        frame[0] = (byte) (length >>> 24);
        frame[1] = (byte) (length >>> 16);
        frame[2] = (byte) (length >>> 8);
        frame[3] = (byte) length;
        in.readFully(frame, 4, 2 + length);
        List<Object> decoded = TestFrames.decodeAsClient(frame);
        assertThat(decoded).hasSize(1);
        return decoded.get(0);
    }

    /** Whether the server closed the connection (end of stream or reset) before sending anything more. */
    public boolean closedByServer() throws IOException {
        try {
            return in.read() == -1;
        } catch (EOFException | SocketException e) {
            return true;
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
