package dev.canopy.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The behaviour every {@link ObjectStore} must have; run against file:// and a real S3 server. */
abstract class ObjectStoreContract {
    @TempDir
    Path tmp;

    /** A fresh, empty store for each test. */
    abstract ObjectStore store();

    @Test
    void smallRoundTrip() {
        ObjectStore s = store();
        s.put("a/b/c.txt", "hello".getBytes());
        assertThat(s.get("a/b/c.txt")).asString().isEqualTo("hello");
        assertThat(s.exists("a/b/c.txt")).isTrue();
        assertThat(s.stat("a/b/c.txt")).get().extracting(ObjectInfo::size).isEqualTo(5L);
        assertThat(s.getAsync("a/b/c.txt").join()).asString().isEqualTo("hello");
        s.put("a/b/c.txt", "replaced".getBytes());
        assertThat(s.get("a/b/c.txt")).asString().isEqualTo("replaced");
        s.delete("a/b/c.txt");
        assertThat(s.exists("a/b/c.txt")).isFalse();
        s.delete("a/b/c.txt"); // deleting a missing object is fine
    }

    @Test
    void twentyMebibyteObjectAndRangedReads() throws Exception {
        ObjectStore s = store();
        byte[] big = new byte[20 * 1024 * 1024];
        new Random(7).nextBytes(big);
        s.put("big/blob.bin", big);
        assertThat(s.get("big/blob.bin")).isEqualTo(big);
        try (InputStream in = s.openStream("big/blob.bin", 10_000_000, 1000)) {
            byte[] part = in.readAllBytes();
            assertThat(part).hasSize(1000);
            assertThat(part).isEqualTo(java.util.Arrays.copyOfRange(big, 10_000_000, 10_001_000));
        }
        try (InputStream in = s.openStream("big/blob.bin", big.length - 10, -1)) {
            assertThat(in.readAllBytes()).isEqualTo(java.util.Arrays.copyOfRange(big, big.length - 10, big.length));
        }
        Path file = tmp.resolve("up.bin");
        Files.write(file, big);
        s.put("big/from-file.bin", file);
        Path down = tmp.resolve("down.bin");
        s.download("big/from-file.bin", down);
        assertThat(Files.readAllBytes(down)).isEqualTo(big);
    }

    @Test
    void listsMoreThanOnePageInOrder() throws Exception {
        ObjectStore s = store();
        int n = 1_203;
        ExecutorService pool = Executors.newFixedThreadPool(16);
        List<Future<?>> fs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String key = String.format("many/k-%05d", i);
            fs.add(pool.submit(() -> s.put(key, key.getBytes())));
        }
        for (Future<?> f : fs) f.get();
        pool.shutdown();
        s.put("other/x", new byte[1]);

        ListPage first = s.list("many/", null, 500);
        assertThat(first.objects()).hasSize(500);
        assertThat(first.hasMore()).isTrue();
        List<String> all = s.listAll("many/").map(ObjectInfo::key).collect(Collectors.toList());
        assertThat(all).hasSize(n).isSorted().doesNotHaveDuplicates();
        assertThat(all.get(0)).isEqualTo("many/k-00000");
        assertThat(s.listAll("many/k-001").count()).isEqualTo(100);
        assertThat(s.listAll("nothing-here/").count()).isZero();
    }

    /** A bounded read returns objects up to the limit whole and refuses larger ones with a typed error, empty ones included. */
    @Test
    @org.junit.jupiter.api.Timeout(value = 120, threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD) // join() ignores interrupts
    void boundedReadsRefuseObjectsOverTheLimit() {
        ObjectStore s = store();
        byte[] data = new byte[300_000];
        new Random(3).nextBytes(data);
        s.put("b/exact", data);
        s.put("b/empty", new byte[0]);
        assertThat(s.getAsync("b/exact", data.length).join()).isEqualTo(data);
        assertThat(s.getAsync("b/exact", 10L * data.length).join()).isEqualTo(data);
        assertThat(s.getAsync("b/exact", Long.MAX_VALUE).join()).as("no limit at all").isEqualTo(data);
        assertThat(s.getAsync("b/empty", 0).join()).isEmpty();
        assertThat(s.getAsync("b/empty", 100).join()).isEmpty();
        assertThatThrownBy(() -> s.getAsync("b/exact", data.length - 1).join()).isInstanceOf(CompletionException.class)
                .cause().isInstanceOf(StorageException.TooLarge.class).hasMessageContaining("b/exact").hasMessageContaining(String.valueOf(data.length - 1));
        assertThatThrownBy(() -> s.getAsync("b/exact", 0).join()).cause().isInstanceOf(StorageException.TooLarge.class);
        assertThatThrownBy(() -> s.getAsync("missing/b", 100).join()).cause().isInstanceOf(StorageException.NotFound.class);
        // the store still serves after refusals (a refused body does not leave a connection stuck)
        for (int i = 0; i < 40; i++) {
            assertThatThrownBy(() -> s.getAsync("b/exact", 1000).join()).cause().isInstanceOf(StorageException.TooLarge.class);
        }
        assertThat(s.getAsync("b/exact", data.length).join()).isEqualTo(data);
    }

    @Test
    void missingObjectsAreTypedNotFound() {
        ObjectStore s = store();
        assertThatThrownBy(() -> s.get("missing/x")).isInstanceOf(StorageException.NotFound.class)
                .hasMessageContaining("missing/x");
        assertThatThrownBy(() -> s.getAsync("missing/y").join()).isInstanceOf(CompletionException.class)
                .hasCauseInstanceOf(StorageException.NotFound.class);
        assertThat(s.stat("missing/z")).isEmpty();
    }

    @Test
    void keysThatEscapeTheRootAreRejected() {
        ObjectStore s = store();
        for (String bad : List.of("../x", "a/../../x", "/etc/passwd", "a/./b", "", "a//b", "..", "C:/x")) {
            assertThatThrownBy(() -> s.put(bad, new byte[1])).as(bad).isInstanceOf(StorageException.InvalidKey.class);
            assertThatThrownBy(() -> s.get(bad)).as(bad).isInstanceOf(StorageException.InvalidKey.class);
        }
    }

    @Test
    void putIfAbsentLetsExactlyOneConcurrentWriterWin() {
        ObjectStore s = store();
        List<CompletableFuture<Boolean>> racers = IntStream.range(0, 8)
                .mapToObj(i -> CompletableFuture.supplyAsync(() -> s.putIfAbsent("claims/one", ("w" + i).getBytes())))
                .collect(Collectors.toList());
        long winners = racers.stream().map(CompletableFuture::join).filter(b -> b).count();
        assertThat(winners).isEqualTo(1);
        assertThat(s.get("claims/one")).asString().startsWith("w");
        assertThat(s.putIfAbsent("claims/one", new byte[1])).isFalse();
    }

    /**
     * A writer whose conditional PUT succeeded but whose answer was lost retries and gets "exists":
     * it must still learn that it won, by recognising its own unique content.
     */
    @Test
    void aRetriedPutIfAbsentRecognisesItsOwnWrite() {
        ObjectStore s = store();
        byte[] mine = ("writer-" + java.util.UUID.randomUUID()).getBytes();
        assertThat(s.putIfAbsent("claims/retried", mine)).isTrue();
        assertThat(s.putIfAbsent("claims/retried", mine.clone())).as("the same writer retrying").isTrue();
        assertThat(s.putIfAbsent("claims/retried", ("writer-" + java.util.UUID.randomUUID()).getBytes())).as("another writer").isFalse();
    }

    @Test
    void manyConcurrentAsyncGets() {
        ObjectStore s = store();
        for (int i = 0; i < 200; i++) s.put("c/" + i, new byte[] {(byte) i});
        List<CompletableFuture<byte[]>> fs = IntStream.range(0, 200).mapToObj(i -> s.getAsync("c/" + i)).collect(Collectors.toList());
        for (int i = 0; i < 200; i++) assertThat(fs.get(i).join()).containsExactly((byte) i);
    }
}
