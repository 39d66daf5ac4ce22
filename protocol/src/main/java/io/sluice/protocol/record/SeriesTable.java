package io.sluice.protocol.record;

/**
 * An immutable view of the first {@link #size()} entries of a {@link SeriesDictionary}, as they were when a
 * block was decoded.
 *
 * <p>Why a view and not the dictionary: the decoder keeps appending to a connection's dictionary while a
 * decoded batch may be read on another thread. Entries below {@code size} are never written again (the
 * dictionary is append-only and grows by copying), so this view is safe to read once the batch has been
 * handed over, and costs no copy.
 */
public final class SeriesTable {

    static final SeriesTable EMPTY = new SeriesTable(new Series[0], 0);

    private final Series[] series;
    private final int size;

    SeriesTable(Series[] series, int size) {
        this.series = series;
        this.size = size;
    }

    /** The series with dictionary id {@code id}. */
    public Series get(int id) {
        if (id < 0 || id >= size) {
            throw new IndexOutOfBoundsException("series id: " + id + " (expected: 0-" + (size - 1) + ")");
        }
        return series[id];
    }

    /** How many series the view holds. */
    public int size() {
        return size;
    }
}
