package io.sluice.gateway.http;

import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.util.AsciiString;
import org.slf4j.MDC;

import java.net.InetSocketAddress;
import java.net.SocketAddress;

/**
 * What one HTTP request is known by in logs and response headers: its trace (from the request's valid
 * {@code traceparent}, else a new one), this gateway's span id for it, and what the request log reports
 * about it. Made when the request's head is read ({@link HttpTracing}); the route's {@link HttpExchange}
 * names the route and the tenant once known.
 */
public final class RequestTrace {

    /** The logging MDC key holding the trace id while a request's code runs on the event loop. */
    public static final String MDC_TRACE_ID = "trace_id";
    /** Response header with the trace id (32 lowercase hex digits). */
    public static final AsciiString TRACE_ID_HEADER = AsciiString.cached("X-Trace-Id");
    /**
     * Response header {@code 00-<trace id>-<this gateway's span id>-<flags>} (W3C Trace Context Level 2,
     * {@code traceresponse}).
     */
    public static final AsciiString TRACE_RESPONSE_HEADER = AsciiString.cached("traceresponse");
    /** Request header read for an incoming trace. */
    public static final AsciiString TRACE_PARENT_HEADER = AsciiString.cached("traceparent");

    /** For the MDC and the request log. */
    private final String traceId;
    /*
     * The header values, as bytes (one array for both): an answer's headers are encoded by copying them, where a
     * String would be converted character by character for every request.
     */
    private final AsciiString traceIdValue;
    private final AsciiString traceResponse;
    private final String method;
    private final String path;
    private final SocketAddress remoteAddress;
    private final long startNanos;
    private String remote;
    private long bytesIn;
    private volatile String route;
    private volatile String tenant;

    /** @param parent the request's valid {@code traceparent}, or null for a new trace */
    private RequestTrace(TraceParent parent, String method, String path, SocketAddress remote) {
        // traceresponse, 00-<trace id>-<span id>-<flags>, written into one array: this runs for every request
        byte[] value = new byte[TraceParent.LENGTH];
        value[0] = '0';
        value[1] = '0';
        value[2] = '-';
        value[35] = '-';
        value[52] = '-';
        if (parent == null) {
            TraceParent.writeRandomHex(value, 3, 16);
        } else {
            for (int i = 0; i < 32; i++) {
                value[3 + i] = (byte) parent.traceId().charAt(i);
            }
        }
        TraceParent.writeRandomHex(value, 36, 8);
        TraceParent.writeHexByte(value, 53, parent == null ? 0 : parent.flags());
        this.traceResponse = new AsciiString(value, false);
        this.traceIdValue = new AsciiString(value, 3, 32, false);
        this.traceId = parent != null ? parent.traceId() : traceIdValue.toString();
        this.method = method;
        this.path = path;
        this.remoteAddress = remote;
        this.startNanos = System.nanoTime();
    }

    /**
     * The trace of a request whose head was just read: its {@code traceparent}'s trace id when that is valid,
     * else a new one. A request that could not be decoded gets a new one whatever it carried.
     */
    static RequestTrace of(HttpRequest request, SocketAddress remote) {
        TraceParent parent = request.decoderResult().isSuccess()
                ? TraceParent.parse(request.headers().get(TRACE_PARENT_HEADER)) : null;
        return new RequestTrace(parent, request.method().name(), pathOf(request.uri()), remote);
    }

    /** A trace for an answer no request head was read for. */
    static RequestTrace unknown(SocketAddress remote) {
        return new RequestTrace(null, "-", "-", remote);
    }

    /** The URI without its query string or fragment (which may carry secrets), as sent. */
    static String pathOf(String uri) {
        int end = uri.length();
        int query = uri.indexOf('?');
        if (query >= 0) {
            end = query;
        }
        int fragment = uri.indexOf('#');
        if (fragment >= 0 && fragment < end) {
            end = fragment;
        }
        return uri.substring(0, end);
    }

    private static String address(SocketAddress remote) {
        if (remote instanceof InetSocketAddress inet && inet.getAddress() != null) {
            return inet.getAddress().getHostAddress(); // never a reverse DNS lookup
        }
        return String.valueOf(remote);
    }

    public String traceId() {
        return traceId;
    }

    /** The {@code traceresponse} header's value: unique to this request. */
    public String traceResponse() {
        return traceResponse.toString();
    }

    /** Whether a {@code traceresponse} value is this request's. */
    boolean answers(String stamped) {
        return stamped != null && traceResponse.contentEquals(stamped);
    }

    /** Whether {@code headers} carry this request's {@code traceresponse} (usually the very value {@link #stamp} set). */
    boolean stampedOn(HttpHeaders headers) {
        return headers.contains(TRACE_RESPONSE_HEADER, traceResponse, false);
    }

    /** Adds the trace headers to an answer to this request. */
    void stamp(HttpHeaders headers) {
        headers.set(TRACE_ID_HEADER, traceIdValue);
        headers.set(TRACE_RESPONSE_HEADER, traceResponse);
    }

    /** Runs {@code task} with this trace id in the logging MDC, restoring what was there before. */
    public void run(Runnable task) {
        String outer = enter();
        try {
            task.run();
        } finally {
            leave(outer);
        }
    }

    /** Puts this trace id in the logging MDC and returns what was there, for {@link #leave}. */
    String enter() {
        String outer = MDC.get(MDC_TRACE_ID);
        MDC.put(MDC_TRACE_ID, traceId);
        return outer;
    }

    /** Restores the MDC's trace id that {@link #enter} returned. */
    static void leave(String outer) {
        if (outer == null) {
            MDC.remove(MDC_TRACE_ID);
        } else {
            MDC.put(MDC_TRACE_ID, outer);
        }
    }

    String method() {
        return method;
    }

    String path() {
        return path;
    }

    /** The client's address as the request log shows it; made when first asked for (few requests are logged). */
    String remote() {
        if (remote == null) {
            remote = address(remoteAddress);
        }
        return remote;
    }

    long startNanos() {
        return startNanos;
    }

    /** Body bytes read so far (as sent: before decompression); read and written on the event loop only. */
    long bytesIn() {
        return bytesIn;
    }

    void addBytesIn(long bytes) {
        bytesIn += bytes;
    }

    String route() {
        return route;
    }

    void route(String name) {
        route = name;
    }

    String tenant() {
        return tenant;
    }

    void tenant(String id) {
        tenant = id;
    }
}
