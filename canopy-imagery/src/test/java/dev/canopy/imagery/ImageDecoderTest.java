package dev.canopy.imagery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

class ImageDecoderTest {
    private final ImageDecoder decoder = new ImageDecoder(32, new float[] {0, 0, 0}, new float[] {1, 1, 1});

    private static byte[] jpeg() {
        SurveyRenderer r = new SurveyRenderer(5, 64);
        try (TileEncoder e = new TileEncoder(0.9f)) {
            return e.jpeg(r.render(0, 0).rgb(), 64);
        }
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.EnumSource(ImageDecoder.JpegMethod.class)
    void fastPathFromTheDecodersBytesEqualsThePixelPath(ImageDecoder.JpegMethod method) {
        // 64 px to 32 px: the decoder scales or subsamples by 2 and hands back a 3-byte BGR image of the target size
        ImageDecoder d = new ImageDecoder(32, ImageDecoder.IMAGENET_MEAN, ImageDecoder.IMAGENET_STD, method);
        byte[] bytes = jpeg();
        float[] fast = d.decode(bytes, "t.jpg");
        float[] viaPixels = d.toTensor(d.decodeImage(bytes, "t.jpg"));
        assertThat(fast).containsExactly(viaPixels);
    }

    @Test
    void theMethodAskedForIsTheMethodUsedWhereTheLibraryIsThere() {
        assertThat(new ImageDecoder(32, ImageDecoder.IMAGENET_MEAN, ImageDecoder.IMAGENET_STD, ImageDecoder.JpegMethod.IMAGEIO_SUBSAMPLED).jpegMethod())
                .isEqualTo(ImageDecoder.JpegMethod.IMAGEIO_SUBSAMPLED);
        assertThat(new ImageDecoder(32, ImageDecoder.IMAGENET_MEAN, ImageDecoder.IMAGENET_STD).jpegMethod()).isEqualTo(ImageDecoder.JpegMethod.preferred());
        assertThatThrownBy(() -> ImageDecoder.JpegMethod.of("libpng")).hasMessageContaining("turbojpeg-dct-scaled");
        TurboJpegTest.assumeLibrary();
        assertThat(new ImageDecoder(32, ImageDecoder.IMAGENET_MEAN, ImageDecoder.IMAGENET_STD, ImageDecoder.JpegMethod.TURBOJPEG_DCT_SCALED).jpegMethod())
                .isEqualTo(ImageDecoder.JpegMethod.TURBOJPEG_DCT_SCALED);
        // the two methods differ on a textured 512 px tile decoded to 64 px: kept pixels vs block means
        SurveyRenderer r = new SurveyRenderer(4, 512);
        byte[] big;
        try (TileEncoder e = new TileEncoder(0.9f)) {
            big = e.jpeg(r.render(0, 0).rgb(), 512);
        }
        float[] a = new ImageDecoder(64, new float[] {0, 0, 0}, new float[] {1, 1, 1}, ImageDecoder.JpegMethod.IMAGEIO_SUBSAMPLED).decode(big, "t");
        float[] b = new ImageDecoder(64, new float[] {0, 0, 0}, new float[] {1, 1, 1}, ImageDecoder.JpegMethod.TURBOJPEG_DCT_SCALED).decode(big, "t");
        assertThat(a).isNotEqualTo(b);
    }

    @Test
    void decodesAndResizesToChwTensor() {
        float[] t = decoder.decode(jpeg(), "t.jpg");
        assertThat(t).hasSize(3 * 32 * 32);
        for (float v : t) assertThat(v).isBetween(0f, 1f);
    }

    @Test
    void normalisesWithMeanAndStd() throws Exception {
        BufferedImage red = new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 8; y++) for (int x = 0; x < 8; x++) red.setRGB(x, y, 0xFF0000);
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ImageIO.write(red, "png", png);
        ImageDecoder d = new ImageDecoder(8, ImageDecoder.IMAGENET_MEAN, ImageDecoder.IMAGENET_STD);
        float[] t = d.decode(png.toByteArray(), "red.png");
        assertThat(t[0]).isCloseTo((1 - 0.485f) / 0.229f, within(1e-4f));
        assertThat(t[64]).isCloseTo((0 - 0.456f) / 0.224f, within(1e-4f));
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.EnumSource(ImageDecoder.JpegMethod.class)
    void truncatedJpegIsATypedErrorNamingTheImage(ImageDecoder.JpegMethod method) {
        ImageDecoder decoder = new ImageDecoder(32, new float[] {0, 0, 0}, new float[] {1, 1, 1}, method);
        byte[] full = jpeg();
        byte[] cut = Arrays.copyOf(full, full.length / 2);
        assertThatThrownBy(() -> decoder.decode(cut, "s3://b/cut.jpg"))
                .isInstanceOf(ImageDecodeException.class).hasMessageContaining("s3://b/cut.jpg").hasMessageContaining("truncated");
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.EnumSource(ImageDecoder.JpegMethod.class)
    void garbageAndEmptyAreTypedErrors(ImageDecoder.JpegMethod method) {
        ImageDecoder decoder = new ImageDecoder(32, new float[] {0, 0, 0}, new float[] {1, 1, 1}, method);
        byte[] garbage = new byte[500];
        new java.util.Random(1).nextBytes(garbage);
        assertThatThrownBy(() -> decoder.decode(garbage, "g.jpg")).isInstanceOf(ImageDecodeException.class).hasMessageContaining("g.jpg");
        assertThatThrownBy(() -> decoder.decode(new byte[0], "e.jpg")).isInstanceOf(ImageDecodeException.class).hasMessageContaining("empty");
        byte[] corruptBody = jpeg();
        for (int i = 700; i < 1400 && i < corruptBody.length - 2; i++) corruptBody[i] = (byte) 0xFF;
        // corrupt entropy data: libjpeg only warns and fills in grey; the decoder must refuse it, naming the image
        assertThatThrownBy(() -> decoder.decode(corruptBody, "c.jpg")).isInstanceOf(ImageDecodeException.class)
                .satisfies(e -> assertThat(((ImageDecodeException) e).image()).isEqualTo("c.jpg"));
    }
    @Test
    void theResizeIsJava2dsBilinearWithinALevel() throws Exception {
        // models trained before the resize was written out saw Java2D's bilinear drawImage: they must see the same pixels
        SurveyRenderer r = new SurveyRenderer(9, 512);
        byte[] jpeg;
        try (TileEncoder e = new TileEncoder(0.9f)) {
            jpeg = e.jpeg(r.render(1, 2).rgb(), 512);
        }
        BufferedImage src = ImageIO.read(new java.io.ByteArrayInputStream(jpeg)); // 3-byte BGR, read straight from the raster
        BufferedImage png = new BufferedImage(300, 200, BufferedImage.TYPE_INT_RGB); // another type, not square
        png.getGraphics().drawImage(src, 0, 0, 300, 200, null);
        BufferedImage grey = new BufferedImage(256, 256, BufferedImage.TYPE_BYTE_GRAY); // Java's linear grey: getRGB would brighten it
        grey.getGraphics().drawImage(src, 0, 0, 256, 256, null);
        BufferedImage alpha = new BufferedImage(256, 160, BufferedImage.TYPE_INT_ARGB); // half transparent: blended onto black
        for (int y = 0; y < 160; y++) for (int x = 0; x < 256; x++) alpha.setRGB(x, y, (x < 128 ? 0x00 : 0xFF) << 24 | src.getRGB(x, y) & 0xFFFFFF);
        for (BufferedImage img : new BufferedImage[] {src, png, grey, alpha}) {
            for (int size : new int[] {224, 100, 64, 333}) {
                ImageDecoder d = new ImageDecoder(size, ImageDecoder.IMAGENET_MEAN, ImageDecoder.IMAGENET_STD);
                int[] ours = d.resized(img);
                BufferedImage ref = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
                java.awt.Graphics2D g = ref.createGraphics();
                g.setRenderingHint(java.awt.RenderingHints.KEY_INTERPOLATION, java.awt.RenderingHints.VALUE_INTERPOLATION_BILINEAR);
                g.drawImage(img, 0, 0, size, size, null);
                g.dispose();
                int[] java2d = ref.getRGB(0, 0, size, size, null, 0, size);
                long sum = 0;
                int worst = 0;
                for (int i = 0; i < ours.length; i++) {
                    for (int shift = 0; shift <= 16; shift += 8) {
                        int diff = Math.abs(((ours[i] >> shift) & 0xFF) - ((java2d[i] >> shift) & 0xFF));
                        sum += diff;
                        worst = Math.max(worst, diff);
                    }
                }
                assertThat(worst).as("largest difference, %dx%d to %d", img.getWidth(), img.getHeight(), size).isLessThanOrEqualTo(1);
                assertThat(sum / (3.0 * ours.length)).as("mean difference").isLessThan(0.2);
            }
        }
    }
}
