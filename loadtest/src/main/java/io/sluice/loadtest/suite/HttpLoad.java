package io.sluice.loadtest.suite;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import org.HdrHistogram.Histogram;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;

/**
 * The suite's HTTP/1.1 load client, so that the benchmarks need nothing installed by hand: keep-alive
 * connections on one event loop (like {@code wrk -t1}), one request in flight per connection, requests
 * encoded once up front (or each written over in place by the connection's {@link Requests}). Closed loop ("as fast as answers come") or, with a rate, paced per connection
 * with latency measured from when each request was due, so a stalled server is not hidden (no
 * coordinated omission). Only answers that complete inside the measured window count; the warm-up before
 * it is discarded.
 */
public final class HttpLoad {

    /** What one run measured. */
    public record Result(long responses, long unexpected, long errors, double seconds, Histogram latencyMicros,
                         String firstUnexpected, Map<String, Long> tally, long reconnects) {
        public double perSecond() {
            return responses / seconds;
        }

        public double percentileMillis(double p) {
            return latencyMicros.getValueAtPercentile(p) / 1000.0;
        }
    }

    private final String host;
    private final int port;
    private final int connections;
    private final Duration warmup;
    private final Duration duration;
    private final double rate;
    private final int expectedStatus;
    /** The fixed requests, or null when each connection's come from {@link #perConnection}. */
    private final List<ByteBuf> requests;
    private final IntFunction<? extends Requests> perConnection;
    private List<String> tallyHeaders = List.of();
    private boolean reconnect;

    /** The requests one connection sends, one at a time, on the client's event loop. */
    public interface Requests {
        /**
         * The next request, whole. The connection writes a retained duplicate of it, so while that write is under way
         * the buffer's {@code refCnt()} is above 1: a source that writes the next request over the last one in place
         * must not do so then.
         */
        ByteBuf next();
    }

    /**
     * @param requests       the distinct requests, sent round robin over all connections
     * @param rate           total requests per second, or 0 for as fast as the server answers
     * @param expectedStatus answers with another status are counted as unexpected
     */
    public HttpLoad(String host, int port, int connections, Duration warmup, Duration duration, double rate,
                    int expectedStatus, List<String> requests) {
        this(host, port, connections, warmup, duration, rate, expectedStatus,
                requests.stream().map(r -> r.getBytes(StandardCharsets.US_ASCII)).toArray(byte[][]::new));
    }

    /** As {@link #HttpLoad(String, int, int, Duration, Duration, double, int, List)}, with requests as bytes (see {@link #post}). */
    public HttpLoad(String host, int port, int connections, Duration warmup, Duration duration, double rate,
                    int expectedStatus, byte[][] requests) {
        this(host, port, connections, warmup, duration, rate, expectedStatus, encode(requests), null);
    }

    /**
     * Each connection {@code c} (0 to {@code connections - 1}) sends what {@code perConnection.apply(c)} makes; a
     * replaced connection (see {@link #reconnecting}) goes on with the same source. The sources belong to the caller.
     */
    public HttpLoad(String host, int port, int connections, Duration warmup, Duration duration, double rate,
                    int expectedStatus, IntFunction<? extends Requests> perConnection) {
        this(host, port, connections, warmup, duration, rate, expectedStatus, null, perConnection);
    }

    /** Either fixed {@code requests}, sent round robin over all connections, or {@code perConnection} sources. */
    private HttpLoad(String host, int port, int connections, Duration warmup, Duration duration, double rate,
                     int expectedStatus, List<ByteBuf> requests, IntFunction<? extends Requests> perConnection) {
        this.host = host;
        this.port = port;
        this.connections = connections;
        this.warmup = warmup;
        this.duration = duration;
        this.rate = rate;
        this.expectedStatus = expectedStatus;
        this.requests = requests;
        // round robin: connection c sends request c, c + connections, ...
        this.perConnection = requests == null ? perConnection : c -> new Requests() {
            private int next = c % requests.size();

            @Override
            public ByteBuf next() {
                ByteBuf request = requests.get(next);
                next = (next + connections) % requests.size();
                return request;
            }
        };
    }

    private static List<ByteBuf> encode(byte[][] requests) {
        List<ByteBuf> encoded = new ArrayList<>(requests.length);
        for (byte[] r : requests) {
            encoded.add(Unpooled.directBuffer(r.length).writeBytes(r));
        }
        return encoded;
    }

    /**
     * Counts the answers by the values of these headers, space-separated, {@code (none)} for one missing (e.g. a
     * cache's hit/miss header and {@code Content-Encoding}: {@code hit gzip}); see {@link Result#tally}.
     */
    public HttpLoad tally(String... headers) {
        this.tallyHeaders = List.of(headers);
        return this;
    }

    /**
     * A connection the server closes during the run is replaced by a new one (as wrk does) and counted in
     * {@link Result#reconnects} rather than as an error: for a load the server is expected to push back on.
     */
    public HttpLoad reconnecting() {
        this.reconnect = true;
        return this;
    }

    /** A GET of each path with the given extra header lines (each ending in CRLF, may be empty). */
    public static List<String> gets(String host, int port, List<String> paths, String extraHeaders) {
        List<String> out = new ArrayList<>(paths.size());
        for (String p : paths) {
            out.add("GET " + p + " HTTP/1.1\r\nHost: " + host + ":" + port + "\r\n" + extraHeaders + "\r\n");
        }
        return out;
    }

    /** A POST of {@code body} to {@code target} (path and query) with the given extra header lines (each ending in CRLF). */
    public static byte[] post(String host, int port, String target, String extraHeaders, byte[] body) {
        byte[] head = ("POST " + target + " HTTP/1.1\r\nHost: " + host + ":" + port + "\r\nContent-Length: " + body.length
                + "\r\n" + extraHeaders + "\r\n").getBytes(StandardCharsets.US_ASCII);
        byte[] request = java.util.Arrays.copyOf(head, head.length + body.length);
        System.arraycopy(body, 0, request, head.length, body.length);
        return request;
    }

    public static List<String> gets(String host, int port, int count, IntFunction<String> path, String extraHeaders) {
        List<String> paths = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            paths.add(path.apply(i));
        }
        return gets(host, port, paths, extraHeaders);
    }

    /** Runs the load once; fixed requests are released at the end. */
    public Result run() throws InterruptedException {
        boolean epoll = Epoll.isAvailable();
        MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(1,
                epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        State state = new State();
        try {
            long start = System.nanoTime();
            state.measureFrom = start + warmup.toNanos();
            state.measureUntil = state.measureFrom + duration.toNanos();
            Bootstrap bootstrap = new Bootstrap().group(group)
                    .channel(epoll ? EpollSocketChannel.class : NioSocketChannel.class)
                    .option(ChannelOption.TCP_NODELAY, true)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5_000);
            List<Channel> channels = new ArrayList<>();
            long intervalNanos = rate > 0 ? (long) (connections * 1e9 / rate) : 0;
            for (int c = 0; c < connections; c++) {
                Requests source = perConnection.apply(c);
                channels.add(connect(bootstrap, state, c, source, intervalNanos).sync().channel());
            }
            long waitNanos = state.measureUntil - System.nanoTime();
            if (waitNanos > 0) {
                TimeUnit.NANOSECONDS.sleep(waitNanos);
            }
            for (Channel ch : channels) {
                ch.close().sync();
            }
            // read the counters on the loop that wrote them
            return group.next().submit(() -> new Result(state.responses, state.unexpected, state.errors,
                    duration.toNanos() / 1e9, state.latency.copy(), state.firstUnexpected, Map.copyOf(state.tally),
                    state.reconnects)).get();
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        } finally {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).sync();
            if (requests != null) {
                requests.forEach(ByteBuf::release);
            }
        }
    }

    private io.netty.channel.ChannelFuture connect(Bootstrap bootstrap, State state, int offset, Requests source,
                                                   long intervalNanos) {
        return bootstrap.clone().handler(new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel ch) {
                ch.pipeline().addLast(new HttpResponseDecoder(), new Connection(state, source, intervalNanos,
                        intervalNanos * offset / Math.max(1, connections), () -> connect(bootstrap, state, offset,
                        source, intervalNanos)));
            }
        }).connect(host, port);
    }

    /** Counters, touched only on the client's single event loop. */
    private static final class State {
        long measureFrom;
        long measureUntil;
        long responses;
        long unexpected;
        long errors;
        long reconnects;
        String firstUnexpected;
        final Histogram latency = new Histogram(TimeUnit.SECONDS.toMicros(60), 3);
        final Map<String, Long> tally = new HashMap<>();
    }

    private final class Connection extends ChannelInboundHandlerAdapter {
        private final State state;
        private final Requests source;
        private final long interval;
        private long due;
        private long sentAt;
        private int status;
        private String tallied;

        private final long spread;
        private final Runnable replace;

        Connection(State state, Requests source, long interval, long spread, Runnable replace) {
            this.state = state;
            this.source = source;
            this.replace = replace;
            this.interval = interval;
            this.spread = spread;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            // the schedule starts when the connection does (connecting takes a while), spread over one interval
            due = System.nanoTime() + spread;
            sendWhenDue(ctx);
        }

        private void sendWhenDue(ChannelHandlerContext ctx) {
            long now = System.nanoTime();
            if (now >= state.measureUntil) {
                return;
            }
            if (interval > 0 && due > now) {
                EventLoop loop = ctx.channel().eventLoop();
                loop.schedule(() -> send(ctx), due - now, TimeUnit.NANOSECONDS);
            } else {
                send(ctx);
            }
        }

        private void send(ChannelHandlerContext ctx) {
            if (!ctx.channel().isActive()) {
                return;
            }
            sentAt = interval > 0 ? due : System.nanoTime();
            ctx.writeAndFlush(source.next().retainedDuplicate(), ctx.voidPromise());
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof HttpResponse response) {
                    status = response.status().code();
                    tallied = tallyHeaders.isEmpty() ? null : tallyHeaders.stream()
                            .map(h -> response.headers().get(h, "(none)")).collect(java.util.stream.Collectors.joining(" "));
                }
                if (msg instanceof LastHttpContent) {
                    long now = System.nanoTime();
                    if (now >= state.measureFrom && now < state.measureUntil) {
                        state.responses++;
                        state.latency.recordValue(Math.min(state.latency.getHighestTrackableValue(),
                                Math.max(1, (now - sentAt) / 1000)));
                        if (tallied != null) {
                            state.tally.merge(tallied, 1L, Long::sum);
                        }
                        if (status != expectedStatus) {
                            state.unexpected++;
                            if (state.firstUnexpected == null) {
                                state.firstUnexpected = "HTTP " + status;
                            }
                        }
                    }
                    if (interval > 0) {
                        due += interval;
                    }
                    sendWhenDue(ctx);
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (System.nanoTime() < state.measureUntil) {
                state.errors++;
                if (state.firstUnexpected == null) {
                    state.firstUnexpected = cause.toString();
                }
            }
            ctx.close();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (reconnect && System.nanoTime() < state.measureUntil) {
                state.reconnects++;
                replace.run();
                return;
            }
            if (System.nanoTime() < state.measureUntil) {
                state.errors++;
                if (state.firstUnexpected == null) {
                    state.firstUnexpected = "connection closed by the server";
                }
            }
        }
    }
}
