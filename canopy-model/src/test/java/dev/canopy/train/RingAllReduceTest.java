package dev.canopy.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.canopy.api.CanopyException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.IntFunction;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The ring over real loopback sockets, one thread per rank: sums, identical bits everywhere, traffic, refusal. */
@Timeout(120)
class RingAllReduceTest {
    static final byte[] SECRET = "a run's shared secret, 32 bytes!".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    /** Starts {@code n} ranks; each joins with {@code secretOf.apply(rank)} and runs {@code body}. */
    static <T> List<CompletableFuture<T>> ring(int n, IntFunction<byte[]> secretOf, java.util.function.BiFunction<Integer, RingAllReduce, T> body) {
        List<RingAllReduce.Listener> listeners = IntStream.range(0, n).mapToObj(r -> RingAllReduce.listen("127.0.0.1")).toList();
        List<String> addresses = listeners.stream().map(RingAllReduce.Listener::address).toList();
        List<CompletableFuture<T>> ranks = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            int rank = r;
            ranks.add(CompletableFuture.supplyAsync(() -> {
                try (RingAllReduce ring = RingAllReduce.join(listeners.get(rank), rank, addresses, secretOf.apply(rank), Duration.ofSeconds(5))) {
                    return body.apply(rank, ring);
                }
            }, java.util.concurrent.Executors.newSingleThreadExecutor()));
        }
        return ranks;
    }

    static float[] data(int rank, int call, int length) {
        SplittableRandom rng = new SplittableRandom(rank * 1_000L + call);
        float[] a = new float[length];
        for (int i = 0; i < length; i++) a[i] = (float) rng.nextGaussian();
        return a;
    }

    @Test
    void everyRankEndsWithTheSumInTheSameBitsAndSendsTwiceTheArrayTimesNMinusOneOverN() {
        for (int n : new int[] {2, 3, 4}) {
            int length = 1_001; // not a multiple of n: segments differ by one
            List<CompletableFuture<List<float[]>>> ranks = ring(n, r -> SECRET, (rank, ring) -> {
                List<float[]> results = new ArrayList<>();
                for (int call = 0; call < 3; call++) {
                    float[] a = data(rank, call, length);
                    ring.sum(a);
                    results.add(a);
                }
                long expected = 3L * 2 * (n - 1) * length * 4 / n;
                assertThat(ring.bytesSent()).as("bytes sent by rank %d of %d", rank, n).isBetween(expected - 3L * 2 * n * 4, expected + 3L * 2 * n * 4);
                return results;
            });
            List<List<float[]>> all = ranks.stream().map(CompletableFuture::join).toList();
            for (int call = 0; call < 3; call++) {
                for (int i = 0; i < length; i++) {
                    double sum = 0;
                    for (int r = 0; r < n; r++) sum += data(r, call, length)[i];
                    assertThat((double) all.get(0).get(call)[i]).as("n=%d call %d element %d", n, call, i).isCloseTo(sum, org.assertj.core.data.Offset.offset(1e-5));
                }
                for (int r = 1; r < n; r++) assertThat(all.get(r).get(call)).as("rank %d holds rank 0's bits", r).isEqualTo(all.get(0).get(call));
            }
        }
    }

    @Test
    void aRankWithAnotherSecretIsRefusedAndNoRankWaitsForever() {
        byte[] other = "another run's secret, 32 bytes!!".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        List<CompletableFuture<Object>> ranks = ring(2, r -> r == 1 ? other : SECRET, (rank, ring) -> "joined");
        for (CompletableFuture<Object> r : ranks) {
            assertThatThrownBy(r::join).isInstanceOf(CompletionException.class).hasCauseInstanceOf(CanopyException.class);
        }
    }

    @Test
    void aRankThatGoesAwayMakesTheOthersFailInsteadOfHanging() {
        List<CompletableFuture<Object>> ranks = ring(3, r -> SECRET, (rank, ring) -> {
            if (rank == 2) return "left"; // closes its sockets without summing
            ring.sum(new float[300]);
            return "summed";
        });
        assertThat(ranks.get(2).join()).isEqualTo("left");
        for (int r = 0; r < 2; r++) {
            assertThatThrownBy(ranks.get(r)::join).hasCauseInstanceOf(CanopyException.class).hasMessageContaining("lost its ring");
        }
    }

    /** A cancelled task's watchdog closes its ring from another thread: a peer's sum blocked on it ends at once, and a later sum on the closed ring is refused by name. */
    @Test
    void closingFromAnotherThreadEndsABlockedSumAtOnce() {
        List<CompletableFuture<Object>> ranks = ring(2, r -> SECRET, (rank, ring) -> {
            if (rank == 0) {
                long t0 = System.nanoTime();
                try {
                    ring.sum(new float[1_000]); // rank 1 never sums: this waits until rank 1 closes its ring
                    return "summed";
                } catch (CanopyException e) {
                    return "failed after " + (System.nanoTime() - t0) / 1_000_000_000 + " s: " + e.getMessage();
                }
            }
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ring.close();
            assertThat(ring.active()).isFalse();
            assertThatThrownBy(() -> ring.sum(new float[1_000])).isInstanceOf(CanopyException.class).hasMessageContaining("left its ring");
            return "closed";
        });
        assertThat((String) ranks.get(1).join()).isEqualTo("closed");
        assertThat((String) ranks.get(0).join()).startsWith("failed after").contains("lost its ring");
    }
}
