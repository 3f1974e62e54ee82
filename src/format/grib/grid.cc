// Grid coordinates as ecCodes' geoiterators compute them (geo/iterator/Regular.cc,
// Latlon.cc, Gaussian.cc, GaussianReduced.cc, LambertConformal.cc; geo/grib_geography.cc),
// operation for operation, so that cfgrib's coordinates come out the same.

#include "lsio/format/grib/grid.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace lsio::grib {

namespace {

constexpr double kMissingDouble = -1e100;  // GRIB_MISSING_DOUBLE
constexpr double kRad2Deg = 57.29577951308232087684;
constexpr double kDeg2Rad = 0.01745329251994329576;

// ecCodes' normalise_longitude_in_degrees: repeated +-360 (whose rounding the coordinates
// carry). Absurd longitudes (a corrupt basic angle) take one fmod instead of a near-endless loop.
double NormaliseLongitude(double lon) {
  if (!std::isfinite(lon)) return lon;
  if (std::fabs(lon) > 1e6) {
    lon = std::fmod(lon, 360.0);
    if (lon < 0) lon += 360;
    return lon;
  }
  while (lon < 0) lon += 360;
  while (lon > 360) lon -= 360;
  return lon;
}

std::string Num(int64_t v) { return std::to_string(v); }

// The Regular iterator's longitudes (Regular::init).
Status RegularLongitudes(const GridDefinition& g, const GridDegrees& deg,
                         std::vector<double>* out) {
  const int64_t ni = g.ni;
  double lon1 = deg.lon1;
  double lon2 = deg.lon2;
  double idir = deg.di_missing ? kMissingDouble : deg.di;
  const bool ineg = g.iscans_negatively();
  if (ni > 1) {
    if (ineg) {
      idir = lon1 > lon2 ? (lon1 - lon2) / static_cast<double>(ni - 1)
                         : (lon1 + 360.0 - lon2) / static_cast<double>(ni - 1);
    } else {
      idir = lon2 > lon1 ? (lon2 - lon1) / static_cast<double>(ni - 1)
                         : (lon2 + 360.0 - lon1) / static_cast<double>(ni - 1);
    }
  }
  if (ineg) {
    idir = -idir;
  } else if (lon1 + static_cast<double>(ni - 2) * idir > 360) {
    lon1 -= 360;
  }
  out->resize(static_cast<size_t>(ni));
  for (int64_t i = 0; i < ni; ++i) {
    (*out)[i] = lon1;
    lon1 += idir;
  }
  if (lon2 > 0) lon2 = NormaliseLongitude(lon2);
  (*out)[ni - 1] = lon2;
  return Status::OK();
}

Status CheckRegular(const GridDefinition& g) {
  if (g.ni == kMissing || g.nj == kMissing) {
    return CorruptDataError("a regular grid with Ni or Nj missing");
  }
  if (g.ni <= 0 || g.nj <= 0) {
    return CorruptDataError("a regular grid of " + Num(g.ni) + "x" + Num(g.nj) + " points");
  }
  if (static_cast<uint64_t>(g.ni) * static_cast<uint64_t>(g.nj) != g.number_of_data_points) {
    return CorruptDataError("Ni*Nj != numberOfDataPoints (" + Num(g.ni) + "*" + Num(g.nj) +
                            " != " + Num(g.number_of_data_points) + ")");
  }
  return Status::OK();
}

// ecCodes' distinctLatitudes (sorted in the scanning direction) and distinctLongitudes
// (ascending), duplicates removed, over the iterator's per-point values; for a regular grid the
// per-point values are the row and column values.
void Distinct(std::vector<double>* v, bool ascending) {
  if (ascending) {
    if (!std::is_sorted(v->begin(), v->end())) std::sort(v->begin(), v->end());
  } else {
    if (!std::is_sorted(v->begin(), v->end(), std::greater<double>())) {
      std::sort(v->begin(), v->end(), std::greater<double>());
    }
  }
  v->erase(std::unique(v->begin(), v->end()), v->end());
}

Status LatLonGrid(const GridDefinition& g, GridCoordinates* c) {
  LSIO_RETURN_IF_ERROR(CheckRegular(g));
  const GridDegrees deg = ComputeGridDegrees(g);
  std::vector<double> lons;
  LSIO_RETURN_IF_ERROR(RegularLongitudes(g, deg, &lons));
  double lat1 = deg.lat1;
  const double lat2 = deg.lat2;
  double jdir = deg.dj_missing ? kMissingDouble : deg.dj;
  if (deg.dj_missing || jdir == kMissingDouble) {
    if (g.nj < 2) return CorruptDataError("a grid of one row with no j increment");
    jdir = lat1 > lat2 ? (lat1 - lat2) / static_cast<double>(g.nj - 1)
                       : (lat2 - lat1) / static_cast<double>(g.nj - 1);
  }
  double north = lat1, south = lat2;
  if (g.jscans_positively()) {
    north = lat2;
    south = lat1;
    jdir = -jdir;
  }
  if (south > north) {
    return CorruptDataError("first and last latitudes are inconsistent with the scanning order");
  }
  std::vector<double> lats(static_cast<size_t>(g.nj));
  for (int64_t j = 0; j < g.nj; ++j) {
    lats[j] = lat1;
    lat1 -= jdir;
  }
  lats[g.nj - 1] = lat2;
  c->latitudes = std::move(lats);
  c->longitudes = std::move(lons);
  return Status::OK();
}

void GaussFirstGuess(int64_t trunc, double* vals) {
  static const double gvals[] = {
      2.4048255577E0,   5.5200781103E0,   8.6537279129E0,   11.7915344391E0,  14.9309177086E0,
      18.0710639679E0,  21.2116366299E0,  24.3524715308E0,  27.4934791320E0,  30.6346064684E0,
      33.7758202136E0,  36.9170983537E0,  40.0584257646E0,  43.1997917132E0,  46.3411883717E0,
      49.4826098974E0,  52.6240518411E0,  55.7655107550E0,  58.9069839261E0,  62.0484691902E0,
      65.1899648002E0,  68.3314693299E0,  71.4729816036E0,  74.6145006437E0,  77.7560256304E0,
      80.8975558711E0,  84.0390907769E0,  87.1806298436E0,  90.3221726372E0,  93.4637187819E0,
      96.6052679510E0,  99.7468198587E0,  102.8883742542E0, 106.0299309165E0, 109.1714896498E0,
      112.3130502805E0, 115.4546126537E0, 118.5961766309E0, 121.7377420880E0, 124.8793089132E0,
      128.0208770059E0, 131.1624462752E0, 134.3040166383E0, 137.4455880203E0, 140.5871603528E0,
      143.7287335737E0, 146.8703076258E0, 150.0118824570E0, 153.1534580192E0, 156.2950342685E0,
  };
  const int64_t num = static_cast<int64_t>(sizeof(gvals) / sizeof(gvals[0]));
  for (int64_t i = 0; i < trunc; ++i) {
    vals[i] = i < num ? gvals[i] : vals[i - 1] + M_PI;
  }
}

Status GaussianGrid(const GridDefinition& g, GridCoordinates* c) {
  LSIO_RETURN_IF_ERROR(CheckRegular(g));
  const GridDegrees deg = ComputeGridDegrees(g);
  std::vector<double> lons;
  LSIO_RETURN_IF_ERROR(RegularLongitudes(g, deg, &lons));
  LSIO_ASSIGN_OR_RETURN(std::vector<double> gl, GaussianLatitudes(g.n));
  // Find the first latitude among the Gaussian ones (binary search, 1e-3 tolerance).
  const int64_t size = 2 * g.n;
  int64_t istart = -1;
  {
    uint64_t low = 0, high = static_cast<uint64_t>(size - 1);
    while (low <= high) {
      const uint64_t mid = (high + low) / 2;
      if (std::fabs(deg.lat1 - gl[mid]) < 1e-3) {
        istart = static_cast<int64_t>(mid);
        break;
      }
      if (deg.lat1 < gl[mid]) {
        low = mid + 1;
      } else {
        if (mid == 0) break;
        high = mid - 1;
      }
    }
  }
  if (istart < 0) {
    return CorruptDataError("latitude of the first point " + std::to_string(deg.lat1) +
                            " is not a Gaussian latitude of N=" + Num(g.n));
  }
  std::vector<double> lats(static_cast<size_t>(g.nj));
  for (int64_t j = 0; j < g.nj; ++j) {
    if (g.jscans_positively()) {
      lats[j] = gl[istart--];
      if (istart < 0) istart = size - 1;
    } else {
      lats[j] = gl[istart++];
      if (istart > size - 1) istart = 0;
    }
  }
  c->latitudes = std::move(lats);
  c->longitudes = std::move(lons);
  return Status::OK();
}

Status ReducedGaussianGrid(std::span<const std::byte> bytes, const GridDefinition& g,
                           GridCoordinates* c) {
  const GridDegrees deg = ComputeGridDegrees(g);
  if (g.n <= 0) return CorruptDataError("a Gaussian grid with N = " + Num(g.n));
  LSIO_ASSIGN_OR_RETURN(std::vector<double> gl, GaussianLatitudes(g.n));
  LSIO_ASSIGN_OR_RETURN(std::vector<uint32_t> pl, ReadPointsPerRow(bytes, g));
  if (pl.empty()) return CorruptDataError("a reduced grid without its points per row");
  double lon_first = deg.lon1, lon_last = deg.lon2;
  auto up = [](double lon) {
    if (!std::isfinite(lon)) return lon;
    if (lon < -1e6) lon = std::fmod(lon, 360.0);
    while (lon < 0) lon += 360;
    return lon;
  };
  lon_last = up(lon_last);
  lon_first = up(lon_first);
  const int64_t max_pl = *std::max_element(pl.begin(), pl.end());
  // is_gaussian_global
  const double d = std::fabs(gl[0] - gl[1]);
  const double delta = 360.0 / static_cast<double>(max_pl);
  const double lon2_global = 360.0 - delta;
  const double lon2_diff = std::fabs(lon_last - lon2_global) - delta;
  const double angular_precision = 1.0 / 1000000.0;
  const bool global = !(std::fabs(deg.lat1 - gl[0]) >= d || std::fabs(deg.lat2 + gl[0]) >= d ||
                        lon_first != 0 || lon2_diff > angular_precision);
  uint64_t total = 0;
  for (uint32_t n : pl) total += n;
  if (!global || pl.size() > gl.size() || total != g.number_of_data_points) {
    return NotSupportedError("coordinates of a sub-area of a reduced Gaussian grid");
  }
  c->latitudes.resize(total);
  c->longitudes.resize(total);
  size_t e = 0;
  for (size_t j = 0; j < pl.size(); ++j) {
    const int64_t row = pl[j];
    for (int64_t i = 0; i < row; ++i) {
      c->longitudes[e] = (static_cast<double>(i) * 360.0) / static_cast<double>(row);
      c->latitudes[e] = gl[j];
      ++e;
    }
  }
  return Status::OK();
}

// from_scale_factor_scaled_value
double FromScaled(int64_t scale_factor, int64_t scaled_value) {
  if (scaled_value == kMissing) return kMissingDouble;
  if (scale_factor == kMissing) scale_factor = 0;
  double v = static_cast<double>(scaled_value);
  while (scale_factor < 0) {
    v *= 10;
    scale_factor++;
  }
  while (scale_factor > 0) {
    v /= 10;
    scale_factor--;
  }
  return v;
}

void XyToLonLat(double radius, double n, double f, double rho0_bare, double lov_rad, double x,
                double y, double* lon_deg, double* lat_deg) {
  x /= radius;
  y /= radius;
  y = rho0_bare - y;
  double rho = std::hypot(x, y);
  if (rho != 0.0) {
    if (n < 0.0) {
      rho = -rho;
      x = -x;
      y = -y;
    }
    const double lat_rad = 2. * std::atan(std::pow(f / rho, 1.0 / n)) - M_PI_2;
    const double lon_rad = std::atan2(x, y) / n;
    *lon_deg = (lon_rad + lov_rad) * kRad2Deg;
    *lat_deg = lat_rad * kRad2Deg;
  } else {
    *lon_deg = 0.0;
    *lat_deg = (n > 0.0 ? M_PI_2 : -M_PI_2) * kRad2Deg;
  }
}

double AdjustLonRadians(double lon) {
  if (lon > M_PI) lon -= 2 * M_PI;
  if (lon < -M_PI) lon += 2 * M_PI;
  return lon;
}
double ComputeM(double eccent, double sinphi, double cosphi) {
  const double con = eccent * sinphi;
  return cosphi / std::sqrt(1.0 - con * con);
}
double ComputeT(double eccent, double phi, double sinphi) {
  double con = eccent * sinphi;
  const double com = 0.5 * eccent;
  con = std::pow((1.0 - con) / (1.0 + con), com);
  return std::tan(0.5 * (M_PI_2 - phi)) / con;
}
bool ComputePhi(double eccent, double ts, double* phi_out) {
  const double eccnth = 0.5 * eccent;
  double phi = M_PI_2 - 2 * std::atan(ts);
  for (int i = 0; i <= 15; ++i) {
    const double sinpi = std::sin(phi);
    const double con = eccent * sinpi;
    const double dphi =
        M_PI_2 - 2 * std::atan(ts * (std::pow((1.0 - con) / (1.0 + con), eccnth))) - phi;
    phi += dphi;
    if (std::fabs(dphi) <= 0.0000000001) {
      *phi_out = phi;
      return true;
    }
  }
  return false;
}

Status LambertGrid(const GridDefinition& g, GridCoordinates* c) {
  const int64_t nx = g.ni, ny = g.nj;
  if (nx <= 0 || ny <= 0 ||
      static_cast<uint64_t>(nx) * static_cast<uint64_t>(ny) != g.number_of_data_points) {
    return CorruptDataError("Lambert grid of " + Num(nx) + "x" + Num(ny) + " points for " +
                            Num(g.number_of_data_points) + " data points");
  }
  // Earth: a sphere for shapes 0, 1, 6, 8 (template.3.shape_of_the_earth.def), else oblate.
  double radius = 0, major = 0, minor = 0;
  bool oblate = false;
  switch (g.shape_of_earth) {
    case 0: radius = 6367470; break;
    case 1: radius = FromScaled(g.radius_scale_factor, g.radius_scaled_value); break;
    case 6: radius = 6371229; break;
    case 8: radius = 6371200; break;
    case 2: oblate = true; major = 6378160.0; minor = 6356775.0; break;
    case 3:
      oblate = true;
      major = FromScaled(g.major_axis_scale_factor, g.major_axis_scaled_value) * 1000;
      minor = FromScaled(g.minor_axis_scale_factor, g.minor_axis_scaled_value) * 1000;
      break;
    case 4:
    case 5: oblate = true; major = 6378137.0; minor = 6356752.314; break;
    case 7:
      oblate = true;
      major = FromScaled(g.major_axis_scale_factor, g.major_axis_scaled_value);
      minor = FromScaled(g.minor_axis_scale_factor, g.minor_axis_scaled_value);
      break;
    case 9: oblate = true; major = 6377563.396; minor = 6356256.909; break;
    default:
      return NotSupportedError("Lambert grid on earth shape " + Num(g.shape_of_earth));
  }
  if ((!oblate && !(radius > 0)) || (oblate && !(major > 0 && minor > 0))) {
    return CorruptDataError("Lambert grid with an invalid earth size");
  }
  const double lov_deg = static_cast<double>(g.lov) / 1000000;
  const double lad_deg = static_cast<double>(g.lad) / 1000000;
  const double latin1_deg = static_cast<double>(g.latin1) / 1000000;
  const double latin2_deg = static_cast<double>(g.latin2) / 1000000;
  const double lat_first_deg = static_cast<double>(g.la1) / 1000000;
  const double lon_first_deg = static_cast<double>(g.lo1) / 1000000;
  const double dx = static_cast<double>(g.dx) / 1000;
  const double dy = static_cast<double>(g.dy) / 1000;
  if (std::fabs(latin1_deg + latin2_deg) < 1.0e-10) {
    return CorruptDataError(
        "Lambert grid with equal standard parallels on opposite sides of the equator");
  }
  const double lat_first = lat_first_deg * kDeg2Rad;
  const double lon_first = lon_first_deg * kDeg2Rad;
  const double latin1 = latin1_deg * kDeg2Rad;
  const double latin2 = latin2_deg * kDeg2Rad;
  const double lad = lad_deg * kDeg2Rad;
  const double lov = lov_deg * kDeg2Rad;
  const size_t nv = static_cast<size_t>(nx * ny);
  c->latitudes.resize(nv);
  c->longitudes.resize(nv);
  if (!oblate) {
    double n;
    if (std::fabs(latin1 - latin2) < 1E-09) {
      n = std::sin(latin1);
    } else {
      n = std::log(std::cos(latin1) / std::cos(latin2)) /
          std::log(std::tan(M_PI_4 + latin2 / 2.0) / std::tan(M_PI_4 + latin1 / 2.0));
    }
    const double f = (std::cos(latin1) * std::pow(std::tan(M_PI_4 + latin1 / 2.0), n)) / n;
    const double rho = radius * f * std::pow(std::tan(M_PI_4 + lat_first / 2.0), -n);
    const double rho0_bare = f * std::pow(std::tan(M_PI_4 + lad / 2.0), -n);
    const double rho0 = radius * rho0_bare;
    double lon_diff = lon_first - lov;
    if (lon_diff > M_PI) lon_diff -= 2 * M_PI;
    if (lon_diff < -M_PI) lon_diff += 2 * M_PI;
    const double angle = n * lon_diff;
    const double x0 = rho * std::sin(angle);
    const double y0 = rho0 - rho * std::cos(angle);
    for (int64_t j = 0; j < ny; ++j) {
      const double y = y0 + static_cast<double>(j) * dy;
      for (int64_t i = 0; i < nx; ++i) {
        const size_t index = static_cast<size_t>(i + j * nx);
        const double x = x0 + static_cast<double>(i) * dx;
        double lon_deg = 0, lat_deg = 0;
        XyToLonLat(radius, n, f, rho0_bare, lov, x, y, &lon_deg, &lat_deg);
        c->longitudes[index] = NormaliseLongitude(lon_deg);
        c->latitudes[index] = lat_deg;
      }
    }
    return Status::OK();
  }
  // Oblate spheroid (LambertConformal::init_oblate).
  const double temp = minor / major;
  const double e = std::sqrt(1.0 - temp * temp);
  double sin_po = std::sin(latin1);
  double cos_po = std::cos(latin1);
  double con = sin_po;
  const double ms1 = ComputeM(e, sin_po, cos_po);
  const double ts1 = ComputeT(e, latin1, sin_po);
  sin_po = std::sin(latin2);
  cos_po = std::cos(latin2);
  const double ms2 = ComputeM(e, sin_po, cos_po);
  const double ts2 = ComputeT(e, latin2, sin_po);
  sin_po = std::sin(lad);
  const double ts0 = ComputeT(e, lad, sin_po);
  double ns;
  if (std::fabs(latin1 - latin2) > 1.0e-10) {
    ns = std::log(ms1 / ms2) / std::log(ts1 / ts2);
  } else {
    ns = con;
  }
  const double big_f = ms1 / (ns * std::pow(ts1, ns));
  const double rh = major * big_f * std::pow(ts0, ns);
  double rh1;
  con = std::fabs(std::fabs(lat_first) - M_PI_2);
  if (con > 1.0e-10) {
    const double sinphi = std::sin(lat_first);
    const double ts = ComputeT(e, lat_first, sinphi);
    rh1 = major * big_f * std::pow(ts, ns);
  } else {
    con = lat_first * ns;
    if (con <= 0) return CorruptDataError("Lambert grid: the first point cannot be projected");
    rh1 = 0;
  }
  double theta = ns * AdjustLonRadians(lon_first - lov);
  double x0 = rh1 * std::sin(theta);
  double y0 = rh - rh1 * std::cos(theta);
  x0 = -x0;
  y0 = -y0;
  const double false_easting = x0;
  const double false_northing = y0;
  for (int64_t j = 0; j < ny; ++j) {
    const double y = static_cast<double>(j) * dy;
    for (int64_t i = 0; i < nx; ++i) {
      const size_t index = static_cast<size_t>(i + j * nx);
      const double x = static_cast<double>(i) * dx;
      const double px = x - false_easting;
      const double py = rh - y + false_northing;
      double r = std::sqrt(px * px + py * py);
      double sgn = 1.0;
      if (ns <= 0) {
        r = -r;
        sgn = -sgn;
      }
      theta = 0.0;
      if (r != 0) theta = std::atan2(sgn * px, sgn * py);
      double lat_rad;
      if (r != 0 || ns > 0.0) {
        const double ts = std::pow(r / (major * big_f), 1.0 / ns);
        if (!ComputePhi(e, ts, &lat_rad)) {
          return CorruptDataError("Lambert grid: latitude iteration did not converge");
        }
      } else {
        lat_rad = -M_PI_2;
      }
      const double lon_rad = AdjustLonRadians(theta / ns + lov);
      c->latitudes[index] = lat_rad * kRad2Deg;
      c->longitudes[index] = NormaliseLongitude(lon_rad * kRad2Deg);
    }
  }
  return Status::OK();
}

}  // namespace

GridDegrees ComputeGridDegrees(const GridDefinition& g) {
  GridDegrees d;
  if (g.template_number == 30) {
    d.lat1 = static_cast<double>(g.la1) / 1000000;
    d.lon1 = static_cast<double>(g.lo1) / 1000000;
    return d;
  }
  int64_t sub = g.subdivisions_of_basic_angle;
  if (sub == kMissing || sub == 0) sub = 1000000;
  int64_t basic = g.basic_angle;
  if (basic == 0) basic = 1;
  auto conv = [&](int64_t v) {
    return static_cast<double>(v) / static_cast<double>(sub) * static_cast<double>(basic);
  };
  d.lat1 = conv(g.la1);
  d.lon1 = conv(g.lo1);
  d.lat2 = conv(g.la2);
  d.lon2 = conv(g.lo2);
  const bool i_given = g.resolution_flags & 0x20;
  const bool j_given = g.resolution_flags & 0x10;
  d.di_missing = !i_given || g.di == kMissing;
  d.dj_missing = g.template_number >= 40 || !j_given || g.dj == kMissing;
  if (!d.di_missing) d.di = conv(g.di);
  if (!d.dj_missing) d.dj = conv(g.dj);
  return d;
}

Result<std::vector<double>> GaussianLatitudes(int64_t trunc) {
  // The cost grows as N^2 (2N latitudes, each a Legendre polynomial of degree 2N); the largest
  // operational grids are N2560 (ECMWF's TCo2559), so N above 8192 is refused rather than
  // computed for seconds.
  if (trunc <= 0 || trunc > 8192) {
    return InvalidArgumentError("Gaussian grid of N = " + Num(trunc) + " (1 to 8192 supported)");
  }
  const int64_t nlat = trunc * 2;
  std::vector<double> lats(static_cast<size_t>(nlat));
  const double rad2deg = 180.0 / M_PI;
  const double convval = (1.0 - ((2.0 / M_PI) * (2.0 / M_PI)) * 0.25);
  const double precision = 1.0E-14;
  GaussFirstGuess(trunc, lats.data());
  const double denom = std::sqrt(((static_cast<double>(nlat) + 0.5) *
                                  (static_cast<double>(nlat) + 0.5)) +
                                 convval);
  for (int64_t jlat = 0; jlat < trunc; ++jlat) {
    double root = std::cos(lats[jlat] / denom);
    int iter = 0;
    double conv = 1;
    double legfonc = 0;
    double mem1, mem2;
    while (std::fabs(conv) >= precision) {
      mem2 = 1.0;
      mem1 = root;
      for (int64_t legi = 0; legi < nlat; ++legi) {
        legfonc = ((2.0 * static_cast<double>(legi + 1) - 1.0) * root * mem1 -
                   static_cast<double>(legi) * mem2) /
                  static_cast<double>(legi + 1);
        mem2 = mem1;
        mem1 = legfonc;
      }
      conv = legfonc / ((static_cast<double>(nlat) * (mem2 - root * legfonc)) /
                        (1.0 - (root * root)));
      root -= conv;
      if (iter++ > 10) {
        return CorruptDataError("Gaussian latitudes of N = " + Num(trunc) +
                                " did not converge");
      }
    }
    lats[jlat] = std::asin(root) * rad2deg;
    lats[nlat - 1 - jlat] = -lats[jlat];
  }
  return lats;
}

Result<GridCoordinates> ComputeGridCoordinates(std::span<const std::byte> message_bytes,
                                               const Field& field) {
  const GridDefinition& g = field.grid;
  GridCoordinates c;
  if (!g.template_supported) {
    return NotSupportedError("coordinates of grid definition template 3." +
                             Num(g.template_number));
  }
  const bool pl_present = g.octets_for_optional_list != 0;
  Status st;
  switch (g.template_number) {
    case 0:
      if (pl_present) return NotSupportedError("coordinates of a reduced latitude/longitude grid");
      c.grid_type = "regular_ll";
      c.layout = GridLayout::kRegular;
      st = LatLonGrid(g, &c);
      break;
    case 40:
      if (pl_present) {
        c.grid_type = "reduced_gg";
        c.layout = GridLayout::kUnstructured;
        st = ReducedGaussianGrid(message_bytes, g, &c);
      } else {
        c.grid_type = "regular_gg";
        c.layout = GridLayout::kRegular;
        st = GaussianGrid(g, &c);
      }
      break;
    case 30:
      c.grid_type = "lambert";
      c.layout = GridLayout::kProjected;
      st = LambertGrid(g, &c);
      break;
    default:
      return NotSupportedError("coordinates of grid definition template 3." +
                               Num(g.template_number));
  }
  if (!st.ok()) return st;
  if (c.layout == GridLayout::kRegular) {
    c.nx = g.ni;
    c.ny = g.nj;
    // distinctLatitudes / distinctLongitudes
    Distinct(&c.latitudes, g.jscans_positively());
    Distinct(&c.longitudes, true);
  } else if (c.layout == GridLayout::kProjected) {
    c.nx = g.ni;
    c.ny = g.nj;
  }
  return c;
}

}  // namespace lsio::grib
