package io.sluice.gateway.prometheus;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.sluice.gateway.http.Json;
import io.sluice.storage.promql.PromqlResult;
import io.sluice.storage.promql.Series;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/** Answers rendered once per answer object, never handed to another answer, within their byte budget. */
class RenderedAnswersTest {

    private static final io.netty.buffer.ByteBufAllocator ALLOC = io.netty.buffer.PooledByteBufAllocator.DEFAULT;

    private static PromqlResult matrix(double value) {
        TreeMap<String, String> labels = new TreeMap<>();
        labels.put("job", "api");
        return new PromqlResult.Matrix(List.of(new Series(labels, new long[] {1_700_000_000_000L, 1_700_000_060_000L},
                new double[] {value, value * 2})));
    }

    private static String text(ByteBuf body) {
        try {
            return body.toString(StandardCharsets.UTF_8);
        } finally {
            body.release();
        }
    }

    private static String direct(PromqlResult answer) {
        return text(Json.write(UnpooledByteBufAllocator.DEFAULT,
                json -> PrometheusJson.success(json, data -> PrometheusJson.result(data, answer))));
    }

    @Test
    void theSameAnswerIsRenderedOnceAndReadsAsItsDirectRendering() {
        RenderedAnswers rendered = new RenderedAnswers(1 << 20);
        PromqlResult answer = matrix(1.5);
        ByteBuf first = rendered.body(answer, ALLOC, true);
        ByteBuf second = rendered.body(answer, ALLOC, true);
        ByteBuf third = rendered.body(answer, ALLOC, true);
        assertThat(second.isDirect()).as("kept in direct memory: the socket writes it without a copy").isTrue();
        assertThat(address(third)).as("the kept body, not a new rendering").isEqualTo(address(second));
        assertThat(text(first)).isEqualTo(direct(answer))
                .isEqualTo("{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":"
                        + "{\"job\":\"api\"},\"values\":[[1700000000,\"1.5\"],[1700000060,\"3\"]]}]}}");
        assertThat(text(second)).isEqualTo(direct(answer));
        assertThat(text(third)).isEqualTo(direct(answer));
        assertThat(rendered.size()).isEqualTo(1);
        rendered.clear();
    }

    /** Where a direct buffer's bytes are. */
    private static long address(ByteBuf body) {
        return body.hasMemoryAddress() ? body.memoryAddress() : System.identityHashCode(body.nioBuffer().slice());
    }

    @Test
    void aBodyDroppedWhileAResponseStillWritesItStaysUntilThatResponseIsDone() {
        RenderedAnswers rendered = new RenderedAnswers(1 << 20);
        PromqlResult answer = matrix(1.5);
        text(rendered.body(answer, ALLOC, true));
        ByteBuf writing = rendered.body(answer, ALLOC, true);
        rendered.clear(); // evicted, or the gateway stopping
        assertThat(writing.refCnt()).as("only the response's reference is left").isEqualTo(1);
        assertThat(text(writing)).isEqualTo(direct(answer));
        assertThat(writing.refCnt()).as("freed once the response is done").isZero();
        assertThat(text(rendered.body(answer, ALLOC, true))).as("rendered again").isEqualTo(direct(answer));
        rendered.clear();
    }

    @Test
    void anAnswerRecomputedAfterAnInvalidationGetsItsOwnBodyEvenWhenEqual() {
        RenderedAnswers rendered = new RenderedAnswers(1 << 20);
        PromqlResult before = matrix(1.5);
        PromqlResult equal = matrix(1.5);
        PromqlResult changed = matrix(7);
        text(rendered.body(before, ALLOC, true));
        text(rendered.body(equal, ALLOC, true));
        ByteBuf a = rendered.body(before, ALLOC, true);
        ByteBuf b = rendered.body(equal, ALLOC, true);
        assertThat(address(b)).as("keyed by identity").isNotEqualTo(address(a));
        assertThat(text(rendered.body(changed, ALLOC, true))).contains("\"7\"", "\"14\"").doesNotContain("\"1.5\"");
        assertThat(text(a)).isEqualTo(text(b));
        rendered.clear();
    }

    @Test
    void anAnswerJustComputedIsNotKept() {
        RenderedAnswers rendered = new RenderedAnswers(1 << 20);
        PromqlResult answer = matrix(1.5);
        assertThat(text(rendered.body(answer, ALLOC, false))).isEqualTo(direct(answer));
        assertThat(rendered.size()).isZero();
        text(rendered.body(answer, ALLOC, true));
        assertThat(rendered.size()).isEqualTo(1);
        rendered.clear();
    }

    @Test
    void bodiesBeyondTheBudgetAreNotKept() {
        int one = direct(matrix(1)).getBytes(StandardCharsets.UTF_8).length;
        RenderedAnswers rendered = new RenderedAnswers(one * 3L);
        List<PromqlResult> answers = List.of(matrix(1), matrix(2), matrix(3), matrix(4), matrix(5), matrix(6));
        for (PromqlResult answer : answers) {
            text(rendered.body(answer, ALLOC, true));
        }
        assertThat(rendered.size()).isLessThanOrEqualTo(3);
        for (PromqlResult answer : answers) {
            assertThat(text(rendered.body(answer, ALLOC, true))).as("an evicted answer is rendered again").isEqualTo(direct(answer));
        }
        rendered.clear();
    }
}
