/* Foley recorder camera: an OpenTTD game script (no company of its own) that keeps the main view on
 * moving vehicles, so a recording with no player shows trains, buses, lorries, ships and aircraft at
 * work. Installed per clip by scripts/record_gameplay.sh (openttd mode), which plays the title game's
 * savegame (opntitle.dat). That savegame names its own game script, "Intro Game Tools" version 1
 * (not shipped), and a loaded savegame starts the script it names, not the configured one: so this
 * script takes that name and version. Its settings are filled into main.nut per clip (@FOCUS@ ...). */
class FoleyCamera extends GSInfo {
	function GetAuthor()      { return "Foley Assistant recorder"; }
	function GetName()        { return "Intro Game Tools"; }
	function GetShortName()   { return "FOLC"; }
	function GetDescription() { return "Camera that follows moving vehicles (for gameplay recordings)"; }
	function GetVersion()     { return 1; }
	function GetDate()        { return "2026-01-01"; }
	function GetAPIVersion()  { return "13"; }
	function CreateInstance() { return "FoleyCamera"; }
}
RegisterGS(FoleyCamera());
