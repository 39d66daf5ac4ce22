package io.sluice.protocol.client;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.util.ReferenceCountUtil;
import io.sluice.protocol.error.ErrorCode;
import io.sluice.protocol.frame.Ack;
import io.sluice.protocol.frame.Batch;
import io.sluice.protocol.frame.ErrorFrame;
import io.sluice.protocol.frame.FrameLimits;
import io.sluice.protocol.frame.GoAway;
import io.sluice.protocol.frame.Hello;
import io.sluice.protocol.frame.HelloOk;
import io.sluice.protocol.frame.Nack;
import io.sluice.protocol.frame.SessionLimits;
import io.sluice.protocol.record.RecordCursor;
import io.sluice.protocol.server.ServerPipeline;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A small gateway stand-in for client tests: real server pipeline, and a scripted answer for every batch
 * (ack, delayed ack, NACK, drop the connection, GOAWAY, or hold until told). Records what it acknowledged.
 */
final class TestServer implements AutoCloseable {

    static final String API_KEY = "test-key";

    /** What to do with one batch. */
    enum Action { ACK, NACK, DROP, GOAWAY_THEN_ACK, HOLD }

    /** The scripted answer. */
    record Reply(Action action, ErrorCode code, int retryAfterMs, long delayMs) {
        static Reply ack() {
            return new Reply(Action.ACK, null, 0, 0);
        }

        static Reply ackAfter(long delayMs) {
            return new Reply(Action.ACK, null, 0, delayMs);
        }

        static Reply nack(ErrorCode code, int retryAfterMs) {
            return new Reply(Action.NACK, code, retryAfterMs, 0);
        }

        static Reply of(Action a) {
            return new Reply(a, null, 0, 0);
        }
    }

    /** Decides the answer to a batch. */
    interface Script {
        /**
         * @param sequence        the batch's sequence number
         * @param timesSeen       how many times this sequence arrived, this time included
         * @param connection      1 for the first connection, 2 for the second, ...
         * @param indexOnConnection 1 for the first batch on its connection, ...
         * @param firstSeries     name of the batch's first series
         */
        Reply answer(long sequence, int timesSeen, int connection, int indexOnConnection, String firstSeries);
    }

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    private final Channel serverChannel;
    volatile Script script = (s, t, c, i, f) -> Reply.ack();
    /** How many times the server closes a connection right after HELLO before accepting one. */
    final AtomicInteger refuseSessions = new AtomicInteger();
    final AtomicInteger connections = new AtomicInteger();
    final Map<Long, AtomicInteger> timesSeen = new ConcurrentHashMap<>();
    final Set<String> ackedSamples = ConcurrentHashMap.newKeySet();
    final Set<Long> ackedSequences = ConcurrentHashMap.newKeySet();
    /** Nano time of the last NACK per sequence, and of the next arrival after it. */
    final Map<Long, Long> nackedAt = new ConcurrentHashMap<>();
    final Map<Long, Long> resentAt = new ConcurrentHashMap<>();
    private final java.util.Queue<Runnable> held = new java.util.concurrent.ConcurrentLinkedQueue<>();
    final int maxInFlight;
    /** The limits list HELLO_OK carries for a client that asks for it (SPEC.md §2.2); null: none. */
    volatile SessionLimits announce;
    /** PINGs received from clients. */
    final AtomicInteger pings = new AtomicInteger();
    /** The options of the last HELLO. */
    volatile Map<String, String> lastHelloOptions;

    TestServer(SslContext tls, int maxInFlight) throws InterruptedException {
        this.maxInFlight = maxInFlight;
        serverChannel = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        if (tls != null) {
                            ch.pipeline().addLast(tls.newHandler(ch.alloc()));
                        }
                        ServerPipeline.install(ch.pipeline(), FrameLimits.DEFAULTS, new Session(connections.incrementAndGet()));
                    }
                })
                .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
    }

    TestServer() throws InterruptedException {
        this(null, 8);
    }

    int port() {
        return ((InetSocketAddress) serverChannel.localAddress()).getPort();
    }

    /** Answers every held batch with an ACK. */
    void releaseHeld() {
        Runnable r;
        while ((r = held.poll()) != null) {
            r.run();
        }
    }

    int heldCount() {
        return held.size();
    }

    @Override
    public void close() {
        serverChannel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private final class Session extends ChannelInboundHandlerAdapter {
        private final int connection;
        private int batches;

        Session(int connection) {
            this.connection = connection;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof Hello hello) {
                    if (!API_KEY.equals(hello.apiKey())) {
                        ctx.writeAndFlush(new ErrorFrame(ErrorCode.AUTH_FAILED, "unknown API key"))
                                .addListener(ChannelFutureListener.CLOSE);
                    } else if (refuseSessions.getAndDecrement() > 0) {
                        ctx.close();
                    } else {
                        lastHelloOptions = hello.options();
                        ctx.writeAndFlush(new HelloOk(connection, FrameLimits.DEFAULT_MAX_FRAME_BYTES, maxInFlight,
                                hello.wantsLimits() ? announce : null));
                    }
                } else if (msg instanceof Batch batch) {
                    onBatch(ctx, batch);
                } else if (msg instanceof io.sluice.protocol.frame.Ping ping) {
                    pings.incrementAndGet();
                    ctx.writeAndFlush(new io.sluice.protocol.frame.Pong(ping.payload()));
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        private void onBatch(ChannelHandlerContext ctx, Batch batch) {
            long seq = batch.sequence();
            int seen = timesSeen.computeIfAbsent(seq, k -> new AtomicInteger()).incrementAndGet();
            if (nackedAt.containsKey(seq)) {
                resentAt.putIfAbsent(seq, System.nanoTime());
            }
            List<String> samples = new ArrayList<>();
            RecordCursor c = batch.cursor();
            String first = null;
            while (c.next()) {
                if (c.isSample()) {
                    first = first == null ? c.series().name() : first;
                    samples.add(c.series() + "@" + c.timestampMs() + "=" + c.value());
                }
            }
            Reply reply = script.answer(seq, seen, connection, ++batches, first);
            Runnable ack = () -> {
                ackedSamples.addAll(samples);
                ackedSequences.add(seq);
                ctx.writeAndFlush(new Ack(seq));
            };
            switch (reply.action()) {
                case ACK -> {
                    if (reply.delayMs() > 0) {
                        ctx.executor().schedule(ack, reply.delayMs(), TimeUnit.MILLISECONDS);
                    } else {
                        ack.run();
                    }
                }
                case NACK -> {
                    nackedAt.put(seq, System.nanoTime());
                    ctx.writeAndFlush(new Nack(seq, reply.code(), reply.retryAfterMs(), "scripted " + reply.code()));
                }
                case DROP -> ctx.close();
                case GOAWAY_THEN_ACK -> {
                    ack.run();
                    ctx.writeAndFlush(new GoAway(ErrorCode.SHUTTING_DOWN, "restarting"));
                }
                case HOLD -> {
                    held.add(() -> ctx.executor().execute(ack));
                }
                default -> throw new IllegalStateException();
            }
        }
    }
}
