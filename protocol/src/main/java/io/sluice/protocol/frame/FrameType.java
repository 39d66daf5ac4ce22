package io.sluice.protocol.frame;

/**
 * The frame types of protocol v1 and who may send each. Type ids are permanent: a removed type's id is never
 * reused (SPEC.md, "Evolution rules").
 */
public enum FrameType {
    HELLO(0x01, Direction.CLIENT_TO_SERVER),
    HELLO_OK(0x02, Direction.SERVER_TO_CLIENT),
    BATCH(0x03, Direction.CLIENT_TO_SERVER),
    ACK(0x04, Direction.SERVER_TO_CLIENT),
    NACK(0x05, Direction.SERVER_TO_CLIENT),
    PING(0x06, Direction.BOTH),
    PONG(0x07, Direction.BOTH),
    GOAWAY(0x08, Direction.BOTH),
    ERROR(0x09, Direction.BOTH);

    /** Who may send a frame type. */
    public enum Direction {
        CLIENT_TO_SERVER, SERVER_TO_CLIENT, BOTH
    }

    private static final FrameType[] BY_ID = new FrameType[256];

    static {
        for (FrameType t : values()) {
            BY_ID[t.id] = t;
        }
    }

    private final int id;
    private final Direction direction;

    FrameType(int id, Direction direction) {
        this.id = id;
        this.direction = direction;
    }

    /** The type byte on the wire. */
    public int id() {
        return id;
    }

    /** Who may send it. */
    public Direction direction() {
        return direction;
    }

    /** The type with wire id {@code id}, or null if v1 has none. */
    public static FrameType fromId(int id) {
        return id < 0 || id > 255 ? null : BY_ID[id];
    }
}
