package io.sluice.storage.spool;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * The spool's delivery progress: the sequence of the last record known to be in Kafka, replaced
 * atomically (temp file, fsync, rename, directory fsync) so a crash leaves either the old or the new one.
 */
final class Checkpoint {

    /** Returned by {@link #read} when nothing was ever delivered, or the checkpoint is unreadable. */
    static final long NONE = -1;

    private static final Logger log = LoggerFactory.getLogger(Checkpoint.class);

    private Checkpoint() {
    }

    /**
     * Reads the delivered sequence. A damaged checkpoint is logged and treated as absent: replaying
     * from the oldest segment only delivers some records twice, which storage absorbs.
     */
    static long read(Path dir) throws IOException {
        Path file = dir.resolve(SpoolFormat.CHECKPOINT_FILE);
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            return NONE;
        }
        ByteBuffer buf = ByteBuffer.wrap(bytes);
        CRC32C crc = new CRC32C();
        if (bytes.length == SpoolFormat.CHECKPOINT_BYTES && buf.getInt(0) == SpoolFormat.CHECKPOINT_MAGIC
                && buf.get(4) == SpoolFormat.VERSION) {
            crc.update(bytes, 0, 16);
            if ((int) crc.getValue() == buf.getInt(16)) {
                return buf.getLong(8);
            }
        }
        log.warn("Spool checkpoint {} is unreadable; replaying the spool from its oldest segment "
                + "(records already in Kafka may be delivered again)", file);
        return NONE;
    }

    static void write(Path dir, long deliveredSequence) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(SpoolFormat.CHECKPOINT_BYTES);
        SpoolFormat.putCheckpoint(buf, deliveredSequence, new CRC32C());
        buf.flip();
        Path temp = dir.resolve(SpoolFormat.CHECKPOINT_FILE + SpoolFormat.TEMP_SUFFIX);
        try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            ch.force(true);
        }
        Files.move(temp, dir.resolve(SpoolFormat.CHECKPOINT_FILE), StandardCopyOption.ATOMIC_MOVE);
        syncDirectory(dir);
    }

    /** Makes a created, renamed or deleted directory entry durable (POSIX needs an fsync of the directory). */
    static void syncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
