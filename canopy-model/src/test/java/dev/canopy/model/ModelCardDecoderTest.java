package dev.canopy.model;

import static org.assertj.core.api.Assertions.assertThat;

import dev.canopy.imagery.ImageDecoder;
import dev.canopy.imagery.ImageDecoder.JpegMethod;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A model is run with the JPEG method it was trained with, so it never sees inputs decoded another way by surprise. */
class ModelCardDecoderTest {
    private static ModelCard card(Map<String, Object> parameters, String source) {
        ModelCard.Provenance p = new ModelCard.Provenance(1L, "file:///s", "d", "v", parameters, Instant.EPOCH, source);
        return new ModelCard("m", ModelCard.FORMAT_DJL, "small-cnn", 64, ImageDecoder.IMAGENET_MEAN, ImageDecoder.IMAGENET_STD,
                List.of("a", "b"), Map.of(), p);
    }

    @Test
    void aModelTrainedBeforeTheMethodWasRecordedKeepsImageIo() {
        ModelCard old = card(Map.of("epochs", 3), "canopy train");
        assertThat(old.jpegMethod()).isEqualTo(JpegMethod.IMAGEIO_SUBSAMPLED);
        assertThat(old.decoder().jpegMethod()).isEqualTo(JpegMethod.IMAGEIO_SUBSAMPLED);
        assertThat(old.decoder().size()).isEqualTo(64);
        // derived, not stored: model.json keeps its fields and reads back the same
        String json = dev.canopy.api.Json.writeString(old);
        assertThat(json).doesNotContain("jpegMethod", "\"decoder\"");
        assertThat(dev.canopy.api.Json.read(json.getBytes(java.nio.charset.StandardCharsets.UTF_8), ModelCard.class, "card").jpegMethod())
                .isEqualTo(JpegMethod.IMAGEIO_SUBSAMPLED);
    }

    @Test
    void theRecordedMethodIsTheOneUsed() {
        assertThat(card(Map.of("jpeg_decoder", "imageio-subsampled"), "canopy train").decoder().jpegMethod()).isEqualTo(JpegMethod.IMAGEIO_SUBSAMPLED);
        ModelCard turbo = card(Map.of("jpeg_decoder", "turbojpeg-dct-scaled"), "canopy train");
        assertThat(turbo.jpegMethod()).isEqualTo(JpegMethod.TURBOJPEG_DCT_SCALED);
        org.junit.jupiter.api.Assumptions.assumeTrue(JpegMethod.TURBOJPEG_DCT_SCALED.availableHere(), "libturbojpeg0 is not installed");
        assertThat(turbo.decoder().jpegMethod()).isEqualTo(JpegMethod.TURBOJPEG_DCT_SCALED);
    }

    @Test
    void aMethodThisVersionDoesNotKnowIsAModelErrorNamingTheModel() {
        ModelCard newer = card(Map.of("jpeg_decoder", "nvjpeg-gpu"), "canopy train");
        org.assertj.core.api.Assertions.assertThatThrownBy(newer::decoder).isInstanceOf(ModelException.class)
                .hasMessageContaining("'m'").hasMessageContaining("nvjpeg-gpu");
    }

    @Test
    void anImportedModelGetsThisMachinesPreferredMethod() {
        ModelCard imported = card(Map.of("file", "m.onnx"), "canopy model import");
        assertThat(imported.jpegMethod()).isNull();
        assertThat(imported.decoder().jpegMethod()).isEqualTo(JpegMethod.preferred());
        ModelCard bare = new ModelCard("m", ModelCard.FORMAT_ONNX, "x", 64, ImageDecoder.IMAGENET_MEAN, ImageDecoder.IMAGENET_STD, List.of("a", "b"), Map.of(), null);
        assertThat(bare.decoder().jpegMethod()).isEqualTo(JpegMethod.preferred());
    }
}
