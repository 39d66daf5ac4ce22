package io.sluice.testing;

import reactor.blockhound.BlockHound;
import reactor.blockhound.integration.BlockHoundIntegration;

/**
 * What BlockHound must know about Netty's adaptive allocator (the default in Netty 4.2) in every test JVM: when a
 * magazine group grows, the magazines it replaces are freed under their own {@code StampedLock}'s write lock, which
 * another thread may hold for the few instructions of an allocation. That wait is the allocator's internal
 * bookkeeping, not I/O; Netty's own BlockHound integration does not list it yet (4.2.18), so an event loop that
 * allocated at that moment failed with {@code BlockingOperationError} (once a PostgreSQL connection's COPY in CI).
 * Only those two methods are allowed; every other blocking call on an event loop still fails the test.
 */
public final class NettyAllocatorBlockHound implements BlockHoundIntegration {

    @Override
    public void applyTo(BlockHound.Builder builder) {
        builder.allowBlockingCallsInside("io.netty.buffer.AdaptivePoolingAllocator$Magazine", "free")
                .allowBlockingCallsInside("io.netty.buffer.AdaptivePoolingAllocator$MagazineGroup", "free");
    }
}
