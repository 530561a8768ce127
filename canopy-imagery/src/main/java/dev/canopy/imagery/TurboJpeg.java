package dev.canopy.imagery;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * JPEG decoding scaled in the DCT domain, through libjpeg-turbo's TurboJPEG library (Debian package
 * {@code libturbojpeg0}) when the system has it. Decoding a 512 px tile straight to 64 px keeps only
 * each 8x8 block's mean: no inverse DCT of the other 63 coefficients, no colour conversion of pixels
 * that would be thrown away. The JDK's ImageIO decoder cannot do this: it decodes every pixel and
 * subsamples afterwards.
 *
 * <p>The scaled image is each block's average colour, so it is smoother than ImageIO's subsampling,
 * which keeps one pixel of every block: {@link ImageDecoder.JpegMethod} keeps the two apart, and
 * {@code -Dcanopy.decoder=imageio} turns this path off for a whole JVM.
 *
 * <p>Thread-safe: every call makes and destroys its own TurboJPEG handle (a few microseconds), so
 * nothing native outlives a call or is shared between threads. Errors, and warnings such as a
 * corrupt entropy stream, come back as {@link ImageDecodeException}s; a progressive JPEG with an
 * absurd number of scans is refused instead of decoded for minutes.
 */
final class TurboJpeg {
    private static final Logger LOG = LoggerFactory.getLogger(TurboJpeg.class);
    private static final int TJPF_BGR = 1;
    private static final int TJFLAG_STOPONWARNING = 8192;
    private static final int TJFLAG_LIMITSCANS = 32768;

    /** True when libturbojpeg was found and the decoder is not set to ImageIO. */
    static final boolean AVAILABLE = load();

    private TurboJpeg() { }

    private static boolean load() {
        String choice = System.getProperty("canopy.decoder", "auto");
        if (choice.equals("imageio")) return false;
        // Debian's runtime package ships only the versioned name; the unversioned one comes with the -dev package
        for (String name : new String[] {"turbojpeg", "libturbojpeg.so.0"}) {
            try {
                Native.register(TurboJpeg.class, NativeLibrary.getInstance(name));
                return true;
            } catch (LinkageError | RuntimeException e) { // JNA's own native part may fail to load too (noexec /tmp)
                LOG.debug("no TurboJPEG library as {}: {}", name, e.getMessage());
            }
        }
        LOG.info("libturbojpeg not found: JPEG tiles are decoded by ImageIO without DCT-domain scaling "
                + "(apt-get install libturbojpeg0 for faster decoding of tiles larger than the model's input)");
        return false;
    }

    private static native Pointer tjInitDecompress();

    private static native int tjDecompressHeader3(Pointer handle, byte[] jpeg, NativeLong size, int[] width, int[] height, int[] subsampling,
                                                  int[] colorspace);

    private static native int tjDecompress2(Pointer handle, byte[] jpeg, NativeLong size, byte[] dst, int width, int pitch, int height,
                                            int pixelFormat, int flags);

    private static native String tjGetErrorStr2(Pointer handle);

    private static native int tjDestroy(Pointer handle);

    /** A JPEG whose header TurboJPEG cannot read (corrupt, or chroma sampling it does not know): ImageIO may still. */
    static final class Unsupported extends RuntimeException {
        Unsupported(String message) {
            super(message, null, false, false);
        }
    }

    /**
     * Decodes {@code jpeg} at the smallest scale k/8 (k = 1..8) whose image is at least
     * {@code minSide} px on both sides, into a 3-byte BGR image (ImageIO's own type for a colour
     * JPEG), refusing images above {@code maxPixels} before anything is allocated for the pixels.
     */
    static BufferedImage decode(byte[] jpeg, int minSide, long maxPixels, String name) {
        Pointer h = tjInitDecompress();
        if (h == null) throw new Unsupported("TurboJPEG could not start a decoder");
        try {
            NativeLong size = new NativeLong(jpeg.length);
            int[] w = new int[1], hh = new int[1], sub = new int[1], cs = new int[1];
            if (tjDecompressHeader3(h, jpeg, size, w, hh, sub, cs) != 0) throw new Unsupported(tjGetErrorStr2(h));
            int width = w[0], height = hh[0];
            if (width < 1 || height < 1) throw new Unsupported("no image size in the JPEG header"); // garbage after the SOI marker
            if ((long) width * height > maxPixels) {
                throw new ImageDecodeException(name, width + "x" + height + " is larger than " + maxPixels + " pixels", null);
            }
            int k = scaleEighths(width, height, minSide);
            int sw = scaled(width, k), sh = scaled(height, k);
            BufferedImage img = new BufferedImage(sw, sh, BufferedImage.TYPE_3BYTE_BGR); // B, G, R bytes, rows packed: TJPF_BGR's layout
            byte[] dst = ((DataBufferByte) img.getRaster().getDataBuffer()).getData();
            if (tjDecompress2(h, jpeg, size, dst, sw, sw * 3, sh, TJPF_BGR, TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS) != 0) {
                throw new ImageDecodeException(name, tjGetErrorStr2(h), null);
            }
            return img;
        } finally {
            tjDestroy(h);
        }
    }

    /** The smallest k in 1..8 such that the image scaled by k/8 is at least {@code minSide} on both sides (8: no scaling). */
    static int scaleEighths(int width, int height, int minSide) {
        for (int k = 1; k < 8; k++) {
            if (scaled(width, k) >= minSide && scaled(height, k) >= minSide) return k;
        }
        return 8;
    }

    /** A side scaled by k/8, rounded up as libjpeg does. */
    static int scaled(int side, int k) {
        return (side * k + 7) / 8;
    }
}
