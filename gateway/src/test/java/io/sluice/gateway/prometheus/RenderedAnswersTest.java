package io.sluice.gateway.prometheus;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.sluice.gateway.http.Json;
import io.sluice.storage.promql.PromqlResult;
import io.sluice.storage.promql.Series;
import org.junit.jupiter.api.Test;
import reactor.core.scheduler.Schedulers;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Answers rendered once per answer object, never handed to another answer, within their byte budget; kept ones
 * also gzip-compressed, off the request's thread, for clients that take gzip.
 */
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
        RenderedAnswers rendered = new RenderedAnswers(1 << 20, Schedulers.immediate());
        PromqlResult answer = matrix(1.5);
        ByteBuf first = rendered.body(answer, ALLOC, true, false).bytes();
        ByteBuf second = rendered.body(answer, ALLOC, true, false).bytes();
        ByteBuf third = rendered.body(answer, ALLOC, true, false).bytes();
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
        RenderedAnswers rendered = new RenderedAnswers(1 << 20, Schedulers.immediate());
        PromqlResult answer = matrix(1.5);
        text(rendered.body(answer, ALLOC, true, false).bytes());
        ByteBuf writing = rendered.body(answer, ALLOC, true, false).bytes();
        rendered.clear(); // evicted, or the gateway stopping
        assertThat(writing.refCnt()).as("only the response's reference is left").isEqualTo(1);
        assertThat(text(writing)).isEqualTo(direct(answer));
        assertThat(writing.refCnt()).as("freed once the response is done").isZero();
        assertThat(text(rendered.body(answer, ALLOC, true, false).bytes())).as("rendered again").isEqualTo(direct(answer));
        rendered.clear();
    }

    @Test
    void anAnswerRecomputedAfterAnInvalidationGetsItsOwnBodyEvenWhenEqual() {
        RenderedAnswers rendered = new RenderedAnswers(1 << 20, Schedulers.immediate());
        PromqlResult before = matrix(1.5);
        PromqlResult equal = matrix(1.5);
        PromqlResult changed = matrix(7);
        text(rendered.body(before, ALLOC, true, false).bytes());
        text(rendered.body(equal, ALLOC, true, false).bytes());
        ByteBuf a = rendered.body(before, ALLOC, true, false).bytes();
        ByteBuf b = rendered.body(equal, ALLOC, true, false).bytes();
        assertThat(address(b)).as("keyed by identity").isNotEqualTo(address(a));
        assertThat(text(rendered.body(changed, ALLOC, true, false).bytes())).contains("\"7\"", "\"14\"").doesNotContain("\"1.5\"");
        assertThat(text(a)).isEqualTo(text(b));
        rendered.clear();
    }

    @Test
    void anAnswerJustComputedIsNotKept() {
        RenderedAnswers rendered = new RenderedAnswers(1 << 20, Schedulers.immediate());
        PromqlResult answer = matrix(1.5);
        assertThat(text(rendered.body(answer, ALLOC, false, false).bytes())).isEqualTo(direct(answer));
        assertThat(rendered.size()).isZero();
        text(rendered.body(answer, ALLOC, true, false).bytes());
        assertThat(rendered.size()).isEqualTo(1);
        rendered.clear();
    }

    @Test
    void bodiesBeyondTheBudgetAreNotKept() {
        int one = direct(matrix(1)).getBytes(StandardCharsets.UTF_8).length;
        RenderedAnswers rendered = new RenderedAnswers(one * 3L, Schedulers.immediate());
        List<PromqlResult> answers = List.of(matrix(1), matrix(2), matrix(3), matrix(4), matrix(5), matrix(6));
        for (PromqlResult answer : answers) {
            text(rendered.body(answer, ALLOC, true, false).bytes());
        }
        assertThat(rendered.size()).isLessThanOrEqualTo(3);
        for (PromqlResult answer : answers) {
            assertThat(text(rendered.body(answer, ALLOC, true, false).bytes())).as("an evicted answer is rendered again").isEqualTo(direct(answer));
        }
        rendered.clear();
    }

    /** Points enough for a body past {@link RenderedAnswers#GZIP_FROM_BYTES}: 3 series of 200 minutes. */
    private static PromqlResult large(double value) {
        List<Series> series = new java.util.ArrayList<>();
        for (int k = 0; k < 3; k++) {
            long[] ts = new long[200];
            double[] vs = new double[200];
            for (int i = 0; i < ts.length; i++) {
                ts[i] = 1_700_000_000_000L + i * 60_000L;
                vs[i] = value * (i % 7) / (k + 3);
            }
            series.add(new Series(new TreeMap<>(java.util.Map.of("instance", "i" + k)), ts, vs));
        }
        return new PromqlResult.Matrix(series);
    }

    private static String gunzip(ByteBuf body) throws java.io.IOException {
        try (java.util.zip.GZIPInputStream in = new java.util.zip.GZIPInputStream(
                new io.netty.buffer.ByteBufInputStream(body, true))) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** Compressions scheduled by {@link #compressedLater()}'s answers, run when a test says. */
    private final java.util.List<Runnable> compressions = new java.util.ArrayList<>();

    private RenderedAnswers compressedLater() {
        return new RenderedAnswers(1 << 20, Schedulers.fromExecutor(compressions::add));
    }

    @Test
    void aKeptBodyIsCompressedOffTheRequestAndThenGoesCompressedToClientsThatTakeGzip() throws Exception {
        RenderedAnswers rendered = compressedLater();
        PromqlResult answer = large(1.5);
        String plain = direct(answer);
        assertThat(plain.length()).isGreaterThan(RenderedAnswers.GZIP_FROM_BYTES);

        RenderedAnswers.Body once = rendered.body(answer, ALLOC, false, true);
        assertThat(once.gzip()).as("an answer computed for one request goes as it is").isFalse();
        assertThat(text(once.bytes())).isEqualTo(plain);
        assertThat(compressions).isEmpty();

        RenderedAnswers.Body kept = rendered.body(answer, ALLOC, true, true);
        assertThat(kept.gzip()).as("not compressed on the request's thread").isFalse();
        assertThat(text(kept.bytes())).isEqualTo(plain);
        assertThat(compressions).hasSize(1);
        RenderedAnswers.Body beforeReady = rendered.body(answer, ALLOC, true, true);
        assertThat(beforeReady.gzip()).as("the plain body until the compressed one is ready").isFalse();
        text(beforeReady.bytes());

        compressions.remove(0).run();
        RenderedAnswers.Body gzip = rendered.body(answer, ALLOC, true, true);
        RenderedAnswers.Body noGzip = rendered.body(answer, ALLOC, true, false);
        assertThat(gzip.gzip()).isTrue();
        assertThat(noGzip.gzip()).isFalse();
        assertThat(gzip.bytes().readableBytes()).as("JSON of numbers compresses well")
                .isLessThan(plain.length() / 3);
        assertThat(gunzip(gzip.bytes())).isEqualTo(plain);
        assertThat(text(noGzip.bytes())).isEqualTo(plain);
        assertThat(rendered.size()).isEqualTo(1);
        assertThat(compressions).as("compressed once").isEmpty();
        rendered.clear();
    }

    @Test
    void aSmallBodyIsNeverCompressed() {
        RenderedAnswers rendered = compressedLater();
        PromqlResult answer = matrix(1.5);
        text(rendered.body(answer, ALLOC, true, true).bytes());
        RenderedAnswers.Body again = rendered.body(answer, ALLOC, true, true);
        assertThat(again.gzip()).isFalse();
        assertThat(text(again.bytes())).isEqualTo(direct(answer));
        assertThat(compressions).isEmpty();
        rendered.clear();
    }

    @Test
    void aBodyDroppedWhileItIsCompressedIsFreedWithItsCompressedCopy() {
        RenderedAnswers rendered = compressedLater();
        PromqlResult answer = large(2);
        text(rendered.body(answer, ALLOC, true, true).bytes());
        ByteBuf writing = rendered.body(answer, ALLOC, true, true).bytes();
        ByteBuf kept = writing.unwrap();
        assertThat(kept.refCnt()).as("the cache's, the compression's and the response's").isEqualTo(3);
        rendered.clear(); // evicted, or the gateway stopping, before the compression ran
        compressions.remove(0).run();
        assertThat(rendered.size()).isZero();
        assertThat(kept.refCnt()).as("only the response's reference is left").isEqualTo(1);
        assertThat(text(writing)).isEqualTo(direct(answer));
        assertThat(kept.refCnt()).isZero();
        RenderedAnswers.Body again = rendered.body(answer, ALLOC, true, true);
        assertThat(again.gzip()).as("rendered again, not compressed yet").isFalse();
        text(again.bytes());
        rendered.clear();
        assertThat(compressions).hasSize(1);
        compressions.remove(0).run(); // frees what it held (leak detection is paranoid in tests)
    }
}
