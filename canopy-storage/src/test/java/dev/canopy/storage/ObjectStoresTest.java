package dev.canopy.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ObjectStoresTest {
    @Test
    void userLocationsBecomeUris() {
        assertThat(ObjectStores.toUri("s3://bucket/prefix/")).isEqualTo(URI.create("s3://bucket/prefix"));
        assertThat(ObjectStores.toUri("s3://bucket")).isEqualTo(URI.create("s3://bucket"));
        assertThat(ObjectStores.toUri("file:///data/x/")).isEqualTo(URI.create("file:///data/x"));
        String abs = Path.of("rel/dir").toAbsolutePath().normalize().toUri().toString();
        assertThat(ObjectStores.toUri("rel/dir").toString()).isEqualTo(abs.substring(0, abs.length() - (abs.endsWith("/") ? 1 : 0)));
        assertThat(ObjectStores.toUri("/tmp/a/../b").toString()).isEqualTo("file:///tmp/b");
        for (String bad : new String[] {"", "  ", null}) {
            assertThatThrownBy(() -> ObjectStores.toUri(bad)).isInstanceOf(StorageException.class).hasMessageContaining("empty storage location");
        }
        assertThatThrownBy(() -> ObjectStores.toUri("s3:///nobucket")).isInstanceOf(StorageException.class).hasMessageContaining("without a bucket");
        assertThatThrownBy(() -> ObjectStores.toUri("gs://b/x")).isInstanceOf(StorageException.class)
                .satisfies(e -> assertThat(((StorageException) e).code()).isEqualTo("storage.unsupported_scheme"));
    }

    @Test
    void opensTheRightStoreOrRefusesTheScheme() {
        try (ObjectStore f = ObjectStores.open(URI.create("file:///tmp/canopy-objectstores-test"), S3Settings.defaults())) {
            assertThat(f).isInstanceOf(FileObjectStore.class);
            assertThat(f.root()).isEqualTo(URI.create("file:///tmp/canopy-objectstores-test"));
        }
        try (ObjectStore s = ObjectStores.open(URI.create("s3://bucket/p"), S3Settings.defaults().withCredentials("a", "b"))) {
            assertThat(s).isInstanceOf(S3ObjectStore.class);
            assertThat(s.root()).isEqualTo(URI.create("s3://bucket/p"));
        }
        assertThatThrownBy(() -> ObjectStores.open(URI.create("ftp://host/x"), S3Settings.defaults())).isInstanceOf(StorageException.class)
                .hasMessageContaining("unsupported storage scheme");
    }

    @Test
    void objectUrisSplitIntoParentNameAndRelativeKey() {
        URI o = URI.create("s3://b/surveys/site/tiles/r1.jpg");
        assertThat(ObjectStores.parentOf(o)).isEqualTo(URI.create("s3://b/surveys/site/tiles"));
        assertThat(ObjectStores.nameOf(o)).isEqualTo("r1.jpg");
        assertThat(ObjectStores.relativeKey(URI.create("s3://b/surveys/site"), o)).isEqualTo("tiles/r1.jpg");
        assertThat(ObjectStores.relativeKey(URI.create("s3://b/surveys/site/"), o)).isEqualTo("tiles/r1.jpg");
        assertThat(ObjectStores.relativeKey(URI.create("s3://b/surveys/sit"), o)).isNull();
        assertThat(ObjectStores.relativeKey(URI.create("s3://b/other"), o)).isNull();
    }
}
