package io.sluice.protocol.client;

import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.ssl.SslContext;
import io.sluice.protocol.frame.FrameLimits;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Objects;
import java.util.Random;

import static io.sluice.protocol.codec.Checks.checkPositive;

/**
 * Configures a {@link SluiceClient}. Only {@link #address} and {@link #apiKey} are required.
 *
 * <table>
 *   <caption>Settings</caption>
 *   <tr><th>setting</th><th>default</th><th>meaning</th></tr>
 *   <tr><td>agentId</td><td>{@value #DEFAULT_AGENT_ID}</td><td>name sent in HELLO</td></tr>
 *   <tr><td>tls</td><td>none (plain TCP)</td><td>an {@link SslContext} for the client side</td></tr>
 *   <tr><td>maxInFlightBatches</td><td>{@value #DEFAULT_MAX_IN_FLIGHT_BATCHES}</td><td>sent, unanswered batches per connection (the server's HELLO_OK may lower it)</td></tr>
 *   <tr><td>maxBufferedBatches</td><td>{@value #DEFAULT_MAX_BUFFERED_BATCHES}</td><td>accepted, unacknowledged batches</td></tr>
 *   <tr><td>maxBufferedBytes</td><td>{@value #DEFAULT_MAX_BUFFERED_BYTES}</td><td>their encoded bytes</td></tr>
 *   <tr><td>bufferFullPolicy</td><td>BLOCK</td><td>{@link BufferFullPolicy}</td></tr>
 *   <tr><td>bufferFullTimeout</td><td>5 s</td><td>longest a BLOCK send waits for room</td></tr>
 *   <tr><td>compression</td><td>false</td><td>LZ4-compress BATCH records</td></tr>
 *   <tr><td>checkAnnouncedLimits</td><td>true</td><td>ask for HELLO_OK's limits list and fail a batch that breaks
 *       one without sending it; false leaves every check but the frame size to the server</td></tr>
 *   <tr><td>reconnectBackoff</td><td>100 ms .. 30 s</td><td>exponential, full jitter</td></tr>
 *   <tr><td>connectTimeout</td><td>5 s</td><td>TCP connect timeout</td></tr>
 *   <tr><td>closeTimeout</td><td>30 s</td><td>longest {@link SluiceClient#close()} waits for acks</td></tr>
 *   <tr><td>maxConnectionErrorsPerBatch</td><td>{@value #DEFAULT_MAX_CONNECTION_ERRORS_PER_BATCH}</td><td>non-retriable connection ERRORs a batch may be in flight for before it is failed (a poison batch must not loop forever)</td></tr>
 * </table>
 */
public final class SluiceClientBuilder {

    public static final String DEFAULT_AGENT_ID = "sluice-java-agent";
    public static final int DEFAULT_MAX_IN_FLIGHT_BATCHES = 16;
    public static final int DEFAULT_MAX_BUFFERED_BATCHES = 1024;
    public static final int DEFAULT_MAX_BUFFERED_BYTES = 64 * 1024 * 1024;
    public static final int DEFAULT_MAX_CONNECTION_ERRORS_PER_BATCH = 3;

    InetSocketAddress address;
    String apiKey;
    String agentId = DEFAULT_AGENT_ID;
    SslContext tls;
    int maxInFlightBatches = DEFAULT_MAX_IN_FLIGHT_BATCHES;
    int maxBufferedBatches = DEFAULT_MAX_BUFFERED_BATCHES;
    int maxBufferedBytes = DEFAULT_MAX_BUFFERED_BYTES;
    BufferFullPolicy bufferFullPolicy = BufferFullPolicy.BLOCK;
    Duration bufferFullTimeout = Duration.ofSeconds(5);
    boolean compression;
    boolean checkAnnouncedLimits = true;
    Duration initialBackoff = Duration.ofMillis(100);
    Duration maxBackoff = Duration.ofSeconds(30);
    Duration connectTimeout = Duration.ofSeconds(5);
    Duration closeTimeout = Duration.ofSeconds(30);
    int maxConnectionErrorsPerBatch = DEFAULT_MAX_CONNECTION_ERRORS_PER_BATCH;
    FrameLimits frameLimits = FrameLimits.DEFAULTS;
    EventLoopGroup eventLoopGroup;
    ByteBufAllocator allocator = ByteBufAllocator.DEFAULT;
    Random random = new Random();

    SluiceClientBuilder() {
    }

    /** The gateway's address (resolved at connect time if unresolved). */
    public SluiceClientBuilder address(String host, int port) {
        return address(InetSocketAddress.createUnresolved(host, port));
    }

    public SluiceClientBuilder address(InetSocketAddress address) {
        this.address = Objects.requireNonNull(address, "address");
        return this;
    }

    public SluiceClientBuilder apiKey(String apiKey) {
        this.apiKey = Objects.requireNonNull(apiKey, "apiKey");
        return this;
    }

    public SluiceClientBuilder agentId(String agentId) {
        this.agentId = Objects.requireNonNull(agentId, "agentId");
        return this;
    }

    /** Connects with TLS using {@code sslContext} (a client context); null for plain TCP. */
    public SluiceClientBuilder tls(SslContext sslContext) {
        if (sslContext != null && !sslContext.isClient()) {
            throw new IllegalArgumentException("tls: a server SslContext (expected: a client one)");
        }
        this.tls = sslContext;
        return this;
    }

    public SluiceClientBuilder maxInFlightBatches(int n) {
        maxInFlightBatches = checkPositive(n, "maxInFlightBatches");
        return this;
    }

    public SluiceClientBuilder maxBufferedBatches(int n) {
        maxBufferedBatches = checkPositive(n, "maxBufferedBatches");
        return this;
    }

    public SluiceClientBuilder maxBufferedBytes(int n) {
        maxBufferedBytes = checkPositive(n, "maxBufferedBytes");
        return this;
    }

    public SluiceClientBuilder bufferFullPolicy(BufferFullPolicy policy) {
        bufferFullPolicy = Objects.requireNonNull(policy, "bufferFullPolicy");
        return this;
    }

    public SluiceClientBuilder bufferFullTimeout(Duration timeout) {
        bufferFullTimeout = positive(timeout, "bufferFullTimeout");
        return this;
    }

    public SluiceClientBuilder compression(boolean lz4) {
        compression = lz4;
        return this;
    }

    /**
     * Whether to ask the server for its limits list (HELLO option {@code limits}, SPEC.md §2.2) and fail a batch that
     * breaks one locally, without sending it (the default). False sends every batch and leaves the verdict to the
     * server: for tools that test a server's own checks.
     */
    public SluiceClientBuilder checkAnnouncedLimits(boolean check) {
        checkAnnouncedLimits = check;
        return this;
    }

    public SluiceClientBuilder reconnectBackoff(Duration initial, Duration max) {
        positive(initial, "initialBackoff");
        positive(max, "maxBackoff");
        if (max.compareTo(initial) < 0) {
            throw new IllegalArgumentException("maxBackoff: " + max + " (expected: >= initialBackoff " + initial + ")");
        }
        initialBackoff = initial;
        maxBackoff = max;
        return this;
    }

    public SluiceClientBuilder connectTimeout(Duration timeout) {
        connectTimeout = positive(timeout, "connectTimeout");
        return this;
    }

    public SluiceClientBuilder closeTimeout(Duration timeout) {
        closeTimeout = positive(timeout, "closeTimeout");
        return this;
    }

    public SluiceClientBuilder maxConnectionErrorsPerBatch(int n) {
        maxConnectionErrorsPerBatch = checkPositive(n, "maxConnectionErrorsPerBatch");
        return this;
    }

    /** Limits for decoding the server's frames. */
    public SluiceClientBuilder frameLimits(FrameLimits limits) {
        frameLimits = Objects.requireNonNull(limits, "frameLimits");
        return this;
    }

    /** Runs the client on this group (not shut down by {@link SluiceClient#close()}); default: its own thread. */
    public SluiceClientBuilder eventLoopGroup(EventLoopGroup group) {
        eventLoopGroup = group;
        return this;
    }

    public SluiceClientBuilder allocator(ByteBufAllocator alloc) {
        allocator = Objects.requireNonNull(alloc, "allocator");
        return this;
    }

    /** The source of backoff jitter (tests pass a seeded one). */
    SluiceClientBuilder random(Random r) {
        random = Objects.requireNonNull(r, "random");
        return this;
    }

    /** Builds the client, which starts connecting at once; sends made before it is connected are queued. */
    public SluiceClient build() {
        if (address == null) {
            throw new IllegalStateException("address: not set (expected: the gateway's host and port)");
        }
        if (apiKey == null) {
            throw new IllegalStateException("apiKey: not set (expected: the tenant's API key)");
        }
        return new SluiceClient(this);
    }

    private static Duration positive(Duration d, String name) {
        Objects.requireNonNull(d, name);
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(name + ": " + d + " (expected: > 0)");
        }
        return d;
    }
}
