package io.sluice.gateway;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * HTTP/1.1 over a plain blocking socket, for requests no well-behaved client sends (a wrong
 * {@code Content-Encoding}, bytes a URI class refuses, bodies larger than the server takes). Keeps the
 * connection alive between requests until the server closes it, then opens a new one.
 */
public final class RawHttp implements AutoCloseable {

    private static final JsonFactory JSON = new JsonFactory();

    /** One answer: its status, headers (names in lower case) and body. */
    public record Response(int status, Map<String, String> headers, byte[] body, boolean closed) {

        public String text() {
            return new String(body, StandardCharsets.UTF_8);
        }

        /**
         * Asserts the API's one error shape with this status and code, and returns the message.
         */
        public String assertError(int expectedStatus, String expectedCode) {
            assertThat(status).as("status of %s", text()).isEqualTo(expectedStatus);
            return assertErrorShape(expectedCode);
        }

        /** Asserts the API's one error shape carrying this response's status; returns the message. */
        public String assertErrorShape(String expectedCode) {
            assertThat(headers.get("content-type")).as("content type of %s %s", status, text())
                    .isEqualTo("application/json");
            Map<String, Object> error = new HashMap<>();
            try (JsonParser p = JSON.createParser(body)) {
                assertThat(p.nextToken()).as("error shape of %s", text()).isEqualTo(JsonToken.START_OBJECT);
                assertThat(p.nextFieldName()).as("error shape of %s", text()).isEqualTo("error");
                assertThat(p.nextToken()).as("error shape of %s", text()).isEqualTo(JsonToken.START_OBJECT);
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String name = p.currentName();
                    JsonToken value = p.nextToken();
                    if (value == JsonToken.VALUE_NUMBER_INT) {
                        error.put(name, p.getIntValue());
                    } else if (value == JsonToken.VALUE_STRING) {
                        error.put(name, p.getText());
                    } else {
                        p.skipChildren();
                        error.put(name, value);
                    }
                }
                assertThat(p.nextToken()).as("error shape of %s", text()).isEqualTo(JsonToken.END_OBJECT);
                assertThat(p.nextToken()).as("error shape of %s", text()).isNull();
            } catch (IOException e) {
                throw new AssertionError("not JSON: " + status + " " + text(), e);
            }
            assertThat(error.get("status")).as("error.status of %s", text()).isEqualTo(status);
            assertThat(error.get("code")).as("error.code of %s", text())
                    .isInstanceOfSatisfying(String.class, c -> assertThat(c).isNotEmpty());
            assertThat(error.get("message")).as("error.message of %s", text())
                    .isInstanceOfSatisfying(String.class, m -> assertThat(m).isNotBlank());
            if (expectedCode != null) {
                assertThat(error.get("code")).as("code of %s", text()).isEqualTo(expectedCode);
            }
            return (String) error.get("message");
        }
    }

    /** Shorter than any server.idle-timeout a test uses (1 s and up). */
    private static final long IDLE_NANOS = 500_000_000L;

    private final int port;
    private long lastUsed;
    private Socket socket;
    private InputStream in;
    private OutputStream out;

    public RawHttp(int port) {
        this.port = port;
    }

    /** Sends one request with a body (Content-Length is added) and reads the answer. */
    public Response send(String method, String target, Map<String, String> headers, byte[] body) throws IOException {
        StringBuilder head = new StringBuilder(method).append(' ').append(target).append(" HTTP/1.1\r\nHost: test\r\n");
        headers.forEach((k, v) -> head.append(k).append(": ").append(v).append("\r\n"));
        if (body != null && headers.keySet().stream().noneMatch(k -> k.equalsIgnoreCase("transfer-encoding"))) {
            head.append("Content-Length: ").append(body.length).append("\r\n");
        }
        head.append("\r\n");
        byte[] start = head.toString().getBytes(StandardCharsets.ISO_8859_1);
        ByteArrayOutputStream request = new ByteArrayOutputStream(start.length + (body == null ? 0 : body.length));
        request.writeBytes(start);
        if (body != null) {
            request.writeBytes(body);
        }
        return exchange(request.toByteArray());
    }

    /**
     * Writes the bytes as they are and reads one answer. Large requests are written from another thread,
     * so that an answer the server gives before reading everything (413) is still read.
     *
     * @throws EOFException when the server closed the connection without answering
     */
    public Response exchange(byte[] request) throws IOException {
        if (socket != null && System.nanoTime() - lastUsed > IDLE_NANOS) {
            close(); // like a client's pool: never reuse a connection the server may be closing as idle
        }
        if (socket == null) {
            socket = new Socket("127.0.0.1", port);
            socket.setSoTimeout(30_000);
            socket.setTcpNoDelay(true);
            in = new BufferedInputStream(socket.getInputStream());
            out = socket.getOutputStream();
        }
        CompletableFuture<Void> written;
        if (request.length > 64 * 1024) {
            OutputStream o = out;
            written = CompletableFuture.runAsync(() -> {
                try {
                    o.write(request);
                    o.flush();
                } catch (IOException ignored) {
                    // the server answered and closed before reading everything: the answer is what counts
                }
            });
        } else {
            out.write(request);
            out.flush();
            written = CompletableFuture.completedFuture(null);
        }
        try {
            Response response = read();
            lastUsed = System.nanoTime();
            if (response.closed()) {
                close();
            }
            return response;
        } catch (IOException e) {
            close();
            throw e;
        } finally {
            written.cancel(false);
        }
    }

    private Response read() throws IOException {
        String statusLine = line();
        if (statusLine == null) {
            throw new EOFException("connection closed without an answer");
        }
        String[] parts = statusLine.split(" ", 3);
        int status = Integer.parseInt(parts[1]);
        Map<String, String> headers = new HashMap<>();
        String line;
        while ((line = line()) != null && !line.isEmpty()) {
            int colon = line.indexOf(':');
            headers.put(line.substring(0, colon).trim().toLowerCase(Locale.ROOT), line.substring(colon + 1).trim());
        }
        String length = headers.get("content-length");
        byte[] body = length != null ? in.readNBytes(Integer.parseInt(length)) : in.readAllBytes();
        boolean closed = length == null || "close".equalsIgnoreCase(headers.get("connection"));
        if (status == 100) {
            return read();
        }
        return new Response(status, headers, body, closed);
    }

    private String line() throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) != -1) {
            if (b == '\n') {
                byte[] bytes = line.toByteArray();
                int n = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
                return new String(bytes, 0, n, StandardCharsets.ISO_8859_1);
            }
            line.write(b);
        }
        return line.size() == 0 ? null : line.toString(StandardCharsets.ISO_8859_1);
    }

    @Override
    public void close() throws IOException {
        if (socket != null) {
            socket.close();
            socket = null;
        }
    }
}
