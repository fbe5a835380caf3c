"""One typed settings object, read from ``RISKMAP_*`` environment variables and ``.env``.

Nested sections use a double underscore: ``RISKMAP_ETL__SNAP_DISTANCE_M=150``.
Build it once per entry point (CLI command, app factory) and pass it down; ``geo/`` never sees it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from riskmap.errors import ConfigError

__all__ = ["AppSettings", "EtlSettings", "GeoSettings", "LdapSettings", "MapSettings",
           "Settings",
           "describe_errors", "load_settings"]


class EtlSettings(BaseModel):
    """Incident ETL options."""

    h3_resolution: int = Field(9, ge=0, le=15, description="H3 resolution stored on incidents")
    snap_distance_m: float = Field(200.0, ge=0, le=5000,
                                   description="points this close outside every mahalla are snapped")
    fuzzy_threshold: float = Field(88.0, ge=50, le=100,
                                   description="minimum rapidfuzz score for a fuzzy mahalla name match")
    admin_threshold: float = Field(80.0, ge=50, le=100,
                                   description="minimum score for a fuzzy district/region match")
    admin_margin: float = Field(10.0, ge=0, le=50,
                                description="lead a district match needs over the runner-up")
    timezone: str = Field("Asia/Tashkent", description="zone of naive timestamps")
    category_aliases: dict[str, str] = Field(
        default_factory=dict, description="extra alias -> canonical category code")
    category_aliases_file: Path | None = Field(
        None, description="JSON or CSV (alias,category) file of extra category aliases")
    chunk_rows: int = Field(250_000, ge=1000, description="rows per chunk for progress and memory")
    build_threads: int = Field(
        2, ge=1, le=4,
        description="build steps run side by side (the hot spots beside the camera coverage "
                    "and the zones, which need no result of theirs); 1 runs them one after "
                    "the other, holding one step's memory at a time")


#: H3 resolutions of the hot-spot layers: every resolution the maps draw (a zoomed-out map
#: falls back to res 5, ``app.h3_view.MIN_RES``), so Gi* and the trend are known at each
HOTSPOT_RESOLUTIONS = (5, 6, 7, 8, 9)


class GeoSettings(BaseModel):
    """Defaults for analytics (plain parameters are passed to geo/ functions)."""

    hotspot_resolutions: list[int] = Field(default_factory=lambda: list(HOTSPOT_RESOLUTIONS))
    kde_bandwidth_m: float = Field(300.0, gt=0)
    kde_cell_m: float = Field(100.0, gt=0)
    fdr: bool = True
    status_months: int = Field(12, ge=1, le=60)
    status_red_top_share: float = Field(0.10, gt=0, lt=1)
    dem: Path | None = Field(
        None, description="terrain + building-height raster (GeoTIFF in metres, projected CRS) "
                          "for line-of-sight cuts of camera coverage")


class LdapSettings(BaseModel):
    """Directory login (LDAP / Active Directory): optional; local accounts always work."""

    model_config = ConfigDict(hide_input_in_errors=True)

    url: str | None = Field(None, description="ldap://host:389 or ldaps://host:636; unset: off")
    user_dn: str = Field("uid={username},ou=people,dc=example,dc=org",
                         description="DN template of a user ({username} is escaped)")
    group_base: str = Field("ou=groups,dc=example,dc=org",
                            description="where the groups with a 'member' attribute live")
    role_groups: dict[str, str] = Field(
        default_factory=dict,
        description="group cn -> role (admin, commander, planner, tourism_safety, analyst)")
    region_groups: dict[str, str] = Field(
        default_factory=dict, description="group cn -> region of the scope")
    district_groups: dict[str, str] = Field(
        default_factory=dict,
        description="group cn -> district of the scope (within the user's regions)")
    start_tls: bool = Field(False, description="STARTTLS on an ldap:// URL")
    timeout_s: float = Field(5.0, gt=0, le=60)


class MapSettings(BaseModel):
    """The MapLibre maps' offline base (served by the app itself; nothing is fetched from the
    internet)."""

    tiles: Path | None = Field(
        None, description="a ministry's offline street map: an MBTiles or PMTiles file of "
                          "OpenStreetMap (vector tiles in the OpenMapTiles schema, or raster "
                          "tiles), drawn under the project's own base layers")
    font: Path | None = Field(
        None, description="the TrueType font of map labels (default: DejaVu Sans, Noto Sans "
                          "or Liberation Sans from the OS)")
    max_cells: int = Field(
        2000, ge=100, le=200_000,
        description="most H3 cells one map draws: zoomed out, coarser cells are shown (raise it "
                    "where the users' browsers draw WebGL on a GPU)")


class AppSettings(BaseModel):
    """Web app options. Logins use the accounts in the store (`riskmap users add`), or the
    directory; there is no default password."""

    model_config = ConfigDict(hide_input_in_errors=True)  # never echo a secret

    host: str = "127.0.0.1"
    port: int = Field(8050, ge=1, le=65535)
    auth: str = Field("accounts", pattern="^(accounts|none)$",
                      description="'accounts': every request needs a login; 'none': no login, "
                                  "every request acts as a local admin (loopback only)")
    regions: list[str] = Field(
        default_factory=list, description="limit what the app may read to these regions")
    session_idle_minutes: int = Field(30, ge=1, le=24 * 60)
    session_hours: int = Field(12, ge=1, le=24 * 14)
    max_request_bytes: int = Field(2 * 1024 * 1024, ge=64 * 1024, le=256 * 1024 * 1024)
    trusted_proxies: int = Field(
        0, ge=0, le=5, description="reverse proxies in front of the app whose "
        "X-Forwarded-For / -Proto the app believes (0: none; the client address of the audit "
        "log and of login throttling is then the connecting address)")
    refresh_seconds: float = Field(
        60.0, gt=0, le=60, description="how often the app checks the store for new data (a "
                                       "row posted to the API shows within this time)")
    ldap: LdapSettings = Field(default_factory=LdapSettings)
    map: MapSettings = Field(default_factory=MapSettings)
    debug: bool = False

    @model_validator(mode="after")
    def _login_off_loopback(self) -> AppSettings:
        loopback = self.host in {"127.0.0.1", "localhost", "::1"}
        if not loopback and self.auth == "none":
            raise ValueError(
                f"app.host={self.host!r} exposes the app beyond this machine: it needs logins "
                "(RISKMAP_APP__AUTH=accounts and users made with `riskmap users add`)")
        return self


class Settings(BaseSettings):
    """Root settings object."""

    model_config = SettingsConfigDict(
        env_prefix="RISKMAP_", env_nested_delimiter="__", env_file=".env", extra="ignore",
        hide_input_in_errors=True)

    store: str = Field("./riskmap-data",
                       description="a directory (embedded store) or a postgresql+psycopg:// URL")
    user: str = Field("local", description="name written to the audit log")
    etl: EtlSettings = Field(default_factory=EtlSettings)
    geo: GeoSettings = Field(default_factory=GeoSettings)
    app: AppSettings = Field(default_factory=AppSettings)


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the environment, with explicit overrides (e.g. CLI options) on top.

    Raises
    ------
    ConfigError
        A setting is invalid; the message names each setting and what is wrong, never its
        value (it may be a password).
    """
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(f"invalid settings: {describe_errors(exc)}") from None


def describe_errors(exc: ValidationError) -> str:
    """One line naming each invalid setting (``app.host: ...``) without echoing values."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(map(str, error["loc"])) or "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        env = "RISKMAP_" + "__".join(map(str, error["loc"])).upper() if error["loc"] else ""
        parts.append(f"{where}{f' ({env})' if env else ''}: {message}")
    return "; ".join(parts)
