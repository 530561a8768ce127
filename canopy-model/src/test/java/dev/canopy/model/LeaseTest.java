package dev.canopy.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

class LeaseTest {
    static final class Counted implements AutoCloseable {
        final AtomicInteger closes = new AtomicInteger();

        @Override
        public void close() {
            closes.incrementAndGet();
        }
    }

    @Test
    void closesOnlyAfterTheLastUserReleasesAndOnlyOnce() {
        Counted r = new Counted();
        Lease<Counted> l = new Lease<>(r);
        assertThat(l.acquire()).isTrue();
        assertThat(l.acquire()).isTrue();
        assertThat(l.users()).isEqualTo(2);
        l.retire();
        assertThat(l.isRetired()).isTrue();
        assertThat(l.acquire()).as("no new users once retired").isFalse();
        l.release();
        assertThat(r.closes).hasValue(0);
        l.release();
        assertThat(r.closes).hasValue(1);
        l.retire();
        assertThat(r.closes).hasValue(1);
        assertThat(l.resource()).isSameAs(r);
    }

    @Test
    void anIdleLeaseClosesWhenRetiredAndUseUpdatesTheClock() throws Exception {
        Counted r = new Counted();
        Lease<Counted> l = new Lease<>(r);
        long before = l.lastUsedNanos();
        Thread.sleep(2);
        assertThat(l.acquire()).isTrue();
        assertThat(l.lastUsedNanos()).isGreaterThan(before);
        l.release();
        assertThat(l.users()).isZero();
        assertThat(r.closes).hasValue(0);
        l.retire();
        assertThat(r.closes).hasValue(1);
    }

    /** Acquires racing a retire: each either gets a live resource (closed only after its release) or is refused. */
    @RepeatedTest(50)
    void acquiresRacingARetireNeverSeeAClosedResource() throws Exception {
        Counted r = new Counted();
        Lease<Counted> l = new Lease<>(r);
        AtomicInteger misuse = new AtomicInteger();
        CountDownLatch go = new CountDownLatch(1);
        Thread[] ts = new Thread[4];
        for (int i = 0; i < ts.length; i++) {
            ts[i] = new Thread(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int k = 0; k < 200; k++) {
                    if (l.acquire()) {
                        if (r.closes.get() > 0) misuse.incrementAndGet();
                        l.release();
                    }
                }
            });
            ts[i].start();
        }
        go.countDown();
        l.retire();
        for (Thread t : ts) t.join();
        assertThat(misuse).hasValue(0);
        assertThat(r.closes).hasValue(1);
        assertThat(l.users()).isZero();
    }
}
