package io.sluice.loadtest.suite;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;

import java.net.InetSocketAddress;

/**
 * The P1 reference: bare Netty (epoll, 2 event loops) answering every request with the same 302. Sluice's
 * cached redirects are measured against it, same load client, connections and duration.
 *
 * <p>Usage: {@code BareNettyRedirectServer [port]}; prints the port it listens on.
 */
public final class BareNettyRedirectServer implements AutoCloseable {

    private final MultiThreadIoEventLoopGroup group;
    private final Channel channel;

    public BareNettyRedirectServer(int port) {
        boolean epoll = Epoll.isAvailable();
        group = new MultiThreadIoEventLoopGroup(2, epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        channel = new ServerBootstrap().group(group)
                .channel(epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(65536), Fixed302.INSTANCE);
                    }
                })
                .bind("127.0.0.1", port).syncUninterruptibly().channel();
    }

    public int port() {
        return ((InetSocketAddress) channel.localAddress()).getPort();
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        group.shutdownGracefully().syncUninterruptibly();
    }

    @ChannelHandler.Sharable
    private static final class Fixed302 extends SimpleChannelInboundHandler<HttpRequest> {
        static final Fixed302 INSTANCE = new Fixed302();

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, HttpRequest request) {
            FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.FOUND,
                    Unpooled.EMPTY_BUFFER);
            response.headers().set(HttpHeaderNames.LOCATION, "https://example.com/landing")
                    .set(HttpHeaderNames.CACHE_CONTROL, "private, max-age=0")
                    .setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
            boolean keepAlive = HttpUtil.isKeepAlive(request);
            HttpUtil.setKeepAlive(response, keepAlive);
            if (keepAlive) {
                ctx.writeAndFlush(response, ctx.voidPromise());
            } else {
                ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    public static void main(String[] args) throws InterruptedException {
        BareNettyRedirectServer server = new BareNettyRedirectServer(args.length > 0 ? Integer.parseInt(args[0]) : 0);
        System.out.println("bare Netty 302 server on 127.0.0.1:" + server.port());
        server.channel.closeFuture().sync();
    }
}
