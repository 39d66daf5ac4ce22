package io.sluice.storage.kafka;

import io.sluice.storage.invalidation.DataChange;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

class ControlMessageTest {

    @Test
    void bothTypesRoundTripInTheirEnvelope() {
        ControlMessage link = new ControlMessage.LinkChanged("aB3xY9z");
        assertThat(ControlMessage.encode(link)).isEqualTo("sluice-control/1 link\naB3xY9z");
        assertThat(ControlMessage.decode(ControlMessage.encode(link))).hasValue(link);

        ControlMessage writes = new ControlMessage.DataWritten(List.of(
                new DataChange("acme", "http.requests", 60_000, 119_999),
                new DataChange("tab\tand\nnewline ü", "cpu%20=x y", -120_000, -60_001),
                new DataChange("acme", null, 0, 59_999),
                new DataChange(null, null, Long.MIN_VALUE, Long.MAX_VALUE)));
        String text = ControlMessage.encode(writes);
        assertThat(text).startsWith("sluice-control/1 writes\nacme\thttp.requests\t60000\t119999\n");
        assertThat(text.split("\n")).hasSize(5);
        assertThat(ControlMessage.decode(text)).hasValue(writes);
        assertThat(ControlMessage.decode(ControlMessage.encode(new ControlMessage.DataWritten(List.of()))))
                .hasValue(new ControlMessage.DataWritten(List.of()));
    }

    @Test
    void theVersionlessLinkMessageOfEarlierReleasesIsStillRead() {
        assertThat(ControlMessage.decode("link:abc")).hasValue(new ControlMessage.LinkChanged("abc"));
    }

    @Test
    void otherVersionsTypesAndGarbageDecodeToNothing() {
        for (String text : new String[] {"sluice-control/2 writes\na\tb\t1\t2", "sluice-control/1 alerts\nx",
                "sluice-control/1 writes\na\tb\t1", "sluice-control/1 writes\na\tb\tx\t2",
                "sluice-control/1 writes\na\tb\t5\t2", "sluice-control/1 writes\n\tcpu\t1\t2",
                "sluice-control/1 link", "sluice-control/", "probe-1", ""}) {
            assertThat(ControlMessage.decode(text)).as(text).isEqualTo(Optional.empty());
        }
    }
}
