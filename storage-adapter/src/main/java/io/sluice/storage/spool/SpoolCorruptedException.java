package io.sluice.storage.spool;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A spool file holds damaged data that is not a torn tail, so the records from {@link #offset()} on
 * cannot be replayed and the spool refuses to skip them silently.
 *
 * <p>The operator either restores the file or moves it aside by renaming it to {@code <name>.corrupt};
 * the spool ignores such files and then opens without the records they held.
 */
public final class SpoolCorruptedException extends IOException {

    private final transient Path file;
    private final long offset;

    public SpoolCorruptedException(Path file, long offset, String reason) {
        super("spool file " + file + " is corrupt at offset " + offset + ": " + reason
                + " (restore the file, or rename it to " + file.getFileName() + SpoolFormat.CORRUPT_SUFFIX
                + " to start without the records it holds)");
        this.file = file;
        this.offset = offset;
    }

    public Path file() {
        return file;
    }

    public long offset() {
        return offset;
    }
}
