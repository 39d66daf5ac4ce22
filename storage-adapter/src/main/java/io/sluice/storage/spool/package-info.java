/**
 * The local disk spool: where accepted data goes, fsync'd, while Kafka is down, until it is replayed.
 *
 * <p>Entry points: {@link io.sluice.storage.spool.Spool} (open, append, mark delivered, close),
 * {@link io.sluice.storage.spool.SpoolReader} (replay), {@link io.sluice.storage.spool.SpoolMetrics}.
 *
 * <h2>Files in {@code spool.dir}</h2>
 * <ul>
 *   <li>{@code <base>.seg}: a segment; {@code <base>} is the sequence number of its first record as 20
 *       zero-padded decimal digits, so names sort in append order. Only the newest one is appended to.</li>
 *   <li>{@code checkpoint}: the sequence of the last delivered record.</li>
 *   <li>{@code lock}: held with an OS file lock while a spool is open; one process per directory.</li>
 *   <li>{@code *.tmp}: a segment or checkpoint being created; removed on open.</li>
 *   <li>{@code *.corrupt}: a file the operator quarantined; ignored.</li>
 * </ul>
 * All integers are big-endian. CRCs are CRC32C (Castagnoli), stored as the low 32 bits.
 *
 * <h2>Segment header (20 bytes)</h2>
 * <pre>
 * offset size field
 *  0     4    magic 0x534C5350 ("SLSP")
 *  4     1    format version, 1; a reader refuses a version it does not know
 *  5     1    flags, 0 (reserved)
 *  6     2    reserved, 0
 *  8     8    base sequence (must match the file name)
 * 16     4    CRC32C of bytes 0..15
 * </pre>
 *
 * <h2>Record (26 bytes + topic + key + value), repeated after the header</h2>
 * <pre>
 * offset   size  field
 *  0       4     body length N = 18 + T + K + V (bytes after the CRC field)
 *  4       4     CRC32C of the N body bytes that follow
 *  8       8     sequence: the previous record's + 1 (the segment's base for its first record)
 * 16       2     T: topic length, 1..65535
 * 18       T     topic, UTF-8
 * 18+T     4     K: key length, >= 0 (0 = no key)
 * 22+T     K     key
 * 22+T+K   4     V: value length, must equal N - 18 - T - K
 * 26+T+K   V     value (opaque to the spool)
 * </pre>
 * A record starts a new segment when it would push the current one past {@code spool.segment-bytes}
 * (a record larger than that gets a segment of its own).
 *
 * <h2>Checkpoint (20 bytes)</h2>
 * <pre>
 *  0     4    magic 0x534C434B ("SLCK")
 *  4     1    format version, 1
 *  5     3    reserved, 0
 *  8     8    sequence of the last delivered record
 * 16     4    CRC32C of bytes 0..15
 * </pre>
 * Written as {@code checkpoint.tmp}, fsync'd, renamed over {@code checkpoint}, then the directory is
 * fsync'd. An unreadable checkpoint is logged and treated as absent (replay from the oldest segment).
 *
 * <h2>Evolution</h2>
 * Fields are never reordered or retyped. A change to the record or header layout takes a new version
 * byte; a spool keeps reading the versions it knows, and refuses an unknown one with an error naming the
 * file, so that an older build never misreads a newer spool.
 *
 * <h2>Durability and recovery</h2>
 * <ul>
 *   <li>An append is acknowledged only after its bytes are written and {@code FileChannel.force} returned.
 *       A new segment is created only after the previous one was fsync'd whole, and it is created as a
 *       temp file with its header, fsync'd, renamed into place, and the directory fsync'd.</li>
 *   <li>So after a crash only the newest segment can end in a torn write. On open, every undelivered
 *       record's CRC is checked; in the newest segment, a bad record with no intact record anywhere after
 *       it is a torn tail: the file is truncated to the last good record, logged and counted
 *       ({@code sluice.spool.torn.tails}). None of those bytes was acknowledged.</li>
 *   <li>Damage anywhere else (an older segment, a bad header, or a bad record followed by an intact one)
 *       means acknowledged data is unreadable: open fails with
 *       {@link io.sluice.storage.spool.SpoolCorruptedException} naming the file and offset, and skips
 *       nothing silently. The operator restores the file, or renames it to {@code *.corrupt} to start
 *       without it; the gap in sequence numbers is then logged, not fatal.</li>
 *   <li>Delivery is at-least-once: replay restarts after the last checkpoint, so records delivered after
 *       it (and any whose segment deletion was interrupted) reach Kafka again. Storage is idempotent
 *       downstream, so this never double counts.</li>
 * </ul>
 */
package io.sluice.storage.spool;
