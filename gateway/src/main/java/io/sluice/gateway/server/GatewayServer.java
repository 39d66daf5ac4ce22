package io.sluice.gateway.server;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.sluice.config.ServerConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The gateway's listening socket: one boss thread accepting, worker event loops serving, and a
 * pipeline built per connection by the given initializer.
 */
public final class GatewayServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(GatewayServer.class);

    private final ServerConfig config;
    private final Transport transport;
    private final MultiThreadIoEventLoopGroup boss;
    private final MultiThreadIoEventLoopGroup workers;
    private Channel serverChannel;
    private final List<Channel> extraChannels = new CopyOnWriteArrayList<>();

    public GatewayServer(ServerConfig config) {
        this.config = config;
        this.transport = Transport.best();
        this.boss = transport.newGroup(1, "sluice-accept");
        // 0 is one per core, as server.io-threads says (Netty's own default for 0 is two per core: on 2 cores that
        // made 4 loops taking turns on 2 cores, and P1 served 107k redirects a second instead of 112k)
        this.workers = transport.newGroup(config.ioThreads() > 0 ? config.ioThreads()
                : Runtime.getRuntime().availableProcessors(), "sluice-io");
    }

    /** The event loops serving connections, for metrics. */
    public EventLoopGroup workers() {
        return workers;
    }

    public Transport transport() {
        return transport;
    }

    /**
     * Binds {@code server.host:server.port} and starts serving.
     *
     * @throws PortUnavailableException naming the setting when the port cannot be bound
     */
    public GatewayServer start(Consumer<SocketChannel> pipeline) {
        return start(pipeline, "server.port");
    }

    /**
     * Binds {@code server.host} and the configured port, which the setting {@code setting} chose, and starts serving.
     *
     * @throws PortUnavailableException naming the setting when the port cannot be bound
     */
    public GatewayServer start(Consumer<SocketChannel> pipeline, String setting) {
        serverChannel = bind(config.port(), setting, pipeline);
        log.info("Listening on {} for {} ({}, {} event loops)", serverChannel.localAddress(), setting,
                transport, workers.executorCount());
        return this;
    }

    /**
     * Binds one more port on {@code server.host}, served by the same event loops, after {@link #start}.
     *
     * @param setting the setting that chose the port, named if it cannot be bound
     * @return the port actually bound
     */
    public int listen(int port, String setting, Consumer<SocketChannel> pipeline) {
        Channel extra = bind(port, setting, pipeline);
        extraChannels.add(extra);
        log.info("Gateway also listening on {} ({})", extra.localAddress(), setting);
        return ((InetSocketAddress) extra.localAddress()).getPort();
    }

    private Channel bind(int port, String setting, Consumer<SocketChannel> pipeline) {
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(boss, workers)
                .channel(transport.serverChannel())
                .option(ChannelOption.SO_BACKLOG, 1024)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.SO_KEEPALIVE, true)
                .childOption(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        pipeline.accept(ch);
                    }
                });
        // awaitUninterruptibly, not syncUninterruptibly: the latter rethrows the native bind error as an
        // undeclared checked exception, which no caller's catch would see.
        ChannelFuture bound = bootstrap.bind(config.host(), port).awaitUninterruptibly();
        if (!bound.isSuccess()) {
            close();
            throw new PortUnavailableException(setting, port, config.host(), bound.cause());
        }
        return bound.channel();
    }

    /** The port actually bound (useful when {@code server.port} is 0). */
    public int port() {
        return ((InetSocketAddress) serverChannel.localAddress()).getPort();
    }

    /** Stops accepting new connections; open ones keep being served. */
    public void stopAccepting() {
        if (serverChannel != null) {
            serverChannel.close().syncUninterruptibly();
        }
        for (Channel extra : extraChannels) {
            extra.close().syncUninterruptibly();
        }
    }

    /** Stops accepting, then shuts the event loops down within {@code server.shutdown-grace}. */
    @Override
    public void close() {
        stopAccepting();
        long graceMs = config.shutdownGrace().toMillis();
        boss.shutdownGracefully(0, graceMs, TimeUnit.MILLISECONDS);
        workers.shutdownGracefully(Math.min(200, graceMs), graceMs, TimeUnit.MILLISECONDS);
        boss.terminationFuture().awaitUninterruptibly(graceMs + 1_000);
        workers.terminationFuture().awaitUninterruptibly(graceMs + 1_000);
    }
}
