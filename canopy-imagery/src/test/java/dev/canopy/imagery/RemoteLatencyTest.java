package dev.canopy.imagery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The benchmark's remote-store stand-in holds no more requests than its connections, loses none, and passes failures on. */
class RemoteLatencyTest {
    @Test
    @org.junit.jupiter.api.Timeout(60)
    void neverMoreRequestsInFlightThanConnectionsAndEveryOneAnswered() {
        RemoteLatency remote = new RemoteLatency(5, 3);
        AtomicInteger inFlight = new AtomicInteger();
        AtomicInteger most = new AtomicInteger();
        List<CompletableFuture<Integer>> answers = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            int n = i;
            CompletableFuture<Integer> a = remote.submit(() -> {
                most.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
                return CompletableFuture.supplyAsync(() -> n);
            });
            answers.add(a.whenComplete((v, e) -> inFlight.decrementAndGet()));
        }
        for (int i = 0; i < answers.size(); i++) assertThat(answers.get(i).join()).isEqualTo(i);
        assertThat(most.get()).isBetween(1, 3);
        // the last connection is given back just after its answer is out
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).until(() -> remote.freeConnections() == 3);
    }

    @Test
    @org.junit.jupiter.api.Timeout(60)
    void aFailedOrThrowingRequestFailsItsAnswerAndFreesItsConnection() {
        RemoteLatency remote = new RemoteLatency(1, 1);
        CompletableFuture<byte[]> failed = remote.submit(() -> CompletableFuture.failedFuture(new IllegalStateException("gone")));
        CompletableFuture<byte[]> thrown = remote.submit(() -> {
            throw new IllegalArgumentException("bad");
        });
        assertThatThrownBy(failed::join).isInstanceOf(CompletionException.class).hasRootCauseInstanceOf(IllegalStateException.class);
        assertThatThrownBy(thrown::join).isInstanceOf(CompletionException.class).hasRootCauseInstanceOf(IllegalArgumentException.class);
        assertThat(remote.submit(() -> CompletableFuture.completedFuture(7)).join()).isEqualTo(7);
    }
}
