package io.sluice.storage.spool;

/** A test hook called on the writer thread just before each {@code FileChannel.force} of a segment. */
@FunctionalInterface
interface SyncListener {

    SyncListener NONE = () -> { };

    void beforeSync() throws java.io.IOException;
}
