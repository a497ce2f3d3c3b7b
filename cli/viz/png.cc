// cli/viz/png.cc — SVG to PNG through librsvg and cairo (Debian: librsvg2-dev), when the build found them
// (BBO_VIZ_PNG); otherwise svg_to_png says so.
#include <cmath>
#include <string>

#include "bbo/error.h"
#include "viz/plot.h"

#ifdef BBO_VIZ_PNG
#include <cairo.h>
#include <librsvg/rsvg.h>
#endif

namespace bbo::viz {

#ifdef BBO_VIZ_PNG

namespace {

cairo_status_t append_bytes(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

}  // namespace

bool png_supported() { return true; }

std::string svg_to_png(const std::string& svg, int width, int height) {
  if (width < 0 || height < 0 || width > 20000 || height > 20000)
    throw ValueError("PNG size " + std::to_string(width) + "x" + std::to_string(height) + " is out of range (1..20000)");
  GError* error = nullptr;
  RsvgHandle* handle = rsvg_handle_new_from_data(reinterpret_cast<const guint8*>(svg.data()), svg.size(), &error);
  if (handle == nullptr) {
    std::string why = error != nullptr ? error->message : "unknown error";
    if (error != nullptr) g_error_free(error);
    for (char& c : why)
      if (c == '\n') c = ' ';
    throw ValueError("cannot render the SVG as PNG: " + why);
  }
  double w0 = 0, h0 = 0;
  if (!rsvg_handle_get_intrinsic_size_in_pixels(handle, &w0, &h0) || !(w0 > 0) || !(h0 > 0)) {
    g_object_unref(handle);
    throw ValueError("cannot render the SVG as PNG: it has no width and height in pixels");
  }
  int w = width, h = height;
  if (w == 0 && h == 0) w = static_cast<int>(std::lround(w0)), h = static_cast<int>(std::lround(h0));
  else if (w == 0) w = std::max(1, static_cast<int>(std::lround(w0 * h / h0)));
  else if (h == 0) h = std::max(1, static_cast<int>(std::lround(h0 * w / w0)));

  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
  cairo_t* cr = cairo_create(surface);
  const RsvgRectangle viewport{0, 0, static_cast<double>(w), static_cast<double>(h)};
  const gboolean ok = rsvg_handle_render_document(handle, cr, &viewport, &error);
  std::string png;
  std::string why;
  if (!ok) {
    why = error != nullptr ? error->message : "unknown error";
    if (error != nullptr) g_error_free(error);
  } else {
    cairo_surface_flush(surface);
    if (cairo_surface_write_to_png_stream(surface, append_bytes, &png) != CAIRO_STATUS_SUCCESS) why = "cairo could not encode the PNG";
  }
  cairo_destroy(cr);
  cairo_surface_destroy(surface);
  g_object_unref(handle);
  if (!why.empty()) throw ValueError("cannot render the SVG as PNG: " + why);
  return png;
}

#else

bool png_supported() { return false; }

std::string svg_to_png(const std::string& /*svg*/, int /*width*/, int /*height*/) {
  throw Error("this bbo was built without PNG support (install librsvg2-dev and rebuild), write an .svg instead");
}

#endif

}  // namespace bbo::viz
