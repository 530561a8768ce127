package dev.canopy.storage;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class FileObjectStoreTest extends ObjectStoreContract {
    private FileObjectStore store;

    @Override
    ObjectStore store() {
        if (store == null) store = new FileObjectStore(tmp.resolve("root"));
        return store;
    }

    @AfterEach
    void close() {
        if (store != null) store.close();
    }

    @Test
    void rootUriAndLocalPaths() throws Exception {
        FileObjectStore s = (FileObjectStore) store();
        s.put("x/y.bin", new byte[3]);
        assertThat(Files.size(s.path("x/y.bin"))).isEqualTo(3);
        assertThat(s.uri("x/y.bin").toString()).startsWith("file:").endsWith("/root/x/y.bin");
        assertThat(ObjectStores.toUri(tmp.resolve("root").toString())).isEqualTo(s.root());
    }

    @Test
    void noTemporaryFilesLeftOrListed() throws Exception {
        ObjectStore s = store();
        s.put("t/a", new byte[10]);
        s.putIfAbsent("t/b", new byte[10]);
        try (var files = Files.list(tmp.resolve("root/t"))) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("a", "b");
        }
    }
}
