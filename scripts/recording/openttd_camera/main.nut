/* Foley recorder camera (see info.nut). The part of the map with vehicles (the box around every
 * vehicle at the start) is cut into a 3x3 grid of regions (x and y in thirds; "r<x><y>", r00 = the
 * north corner, r22 = the south corner). Every @MIN_FOLLOW@..@MAX_FOLLOW@
 * ticks (a tick is about 27 ms) it picks a vehicle type at random among the types with a vehicle
 * moving in the clip's region (@REGION@; anywhere when none moves there), then one such vehicle, and
 * re-centres the main view on it every 8 ticks. The game's random generator picks, so the game seed
 * (-G) fixes the choices. */
class FoleyCamera extends GSController {
	function Start();
	function Moving(rx, ry);
	x0 = 0; y0 = 0; wx = 1; wy = 1;  // the box around all vehicles
	function Save() { return {}; }
	function Load(version, data) {}  // the savegame's data is for the real "Intro Game Tools"
}

/* moving vehicles in region (rx, ry) of the 3x3 grid; rx < 0: anywhere */
function FoleyCamera::Moving(rx, ry)
{
	local list = GSVehicleList();
	list.Valuate(GSVehicle.GetState);
	list.KeepValue(GSVehicle.VS_RUNNING);
	list.Valuate(GSVehicle.GetCurrentSpeed);
	list.KeepAboveValue(0);
	if (rx >= 0) {
		foreach (v, _ in list) {
			local t = GSVehicle.GetLocation(v);
			if ((GSMap.GetTileX(t) - x0) * 3 / wx != rx || (GSMap.GetTileY(t) - y0) * 3 / wy != ry) list.SetValue(v, -1);
		}
		list.KeepAboveValue(-1);
	}
	return list;
}

function FoleyCamera::Start()
{
	local region = "@REGION@";
	local rx = region.slice(1, 2).tointeger(), ry = region.slice(2, 3).tointeger();
	local lo = @MIN_FOLLOW@, hi = @MAX_FOLLOW@;
	if (hi < lo) hi = lo;
	local x1 = 0, y1 = 0;
	x0 = GSMap.GetMapSizeX(); y0 = GSMap.GetMapSizeY();
	foreach (v, _ in GSVehicleList()) {
		local t = GSVehicle.GetLocation(v);
		if (!GSMap.IsValidTile(t)) continue;
		local x = GSMap.GetTileX(t), y = GSMap.GetTileY(t);
		if (x < x0) x0 = x;
		if (y < y0) y0 = y;
		if (x > x1) x1 = x;
		if (y > y1) y1 = y;
	}
	wx = x1 >= x0 ? x1 - x0 + 1 : 1; wy = y1 >= y0 ? y1 - y0 + 1 : 1;
	GSLog.Info("vehicles within x " + x0 + ".." + x1 + ", y " + y0 + ".." + y1 + "; region " + region);
	while (true) {
		local list = Moving(rx, ry);
		if (list.IsEmpty()) list = Moving(-1, -1);
		if (list.IsEmpty()) { Sleep(30); continue; }
		local types = GSList();
		foreach (v, _ in list) types.AddItem(GSVehicle.GetVehicleType(v), 0);
		types.Valuate(GSBase.RandItem);
		types.Sort(GSList.SORT_BY_VALUE, GSList.SORT_ASCENDING);
		local type = types.Begin();
		list.Valuate(GSVehicle.GetVehicleType);
		list.KeepValue(type);
		list.Valuate(GSBase.RandItem);
		list.Sort(GSList.SORT_BY_VALUE, GSList.SORT_ASCENDING);
		local v = list.Begin();
		local t = GSVehicle.GetLocation(v);
		GSLog.Info("following vehicle " + v + " type " + type + " at " + GSMap.GetTileX(t) + "," + GSMap.GetTileY(t)
			+ " (" + list.Count() + " of that type moving)");
		local until = GSController.GetTick() + GSBase.RandRange(hi - lo + 1) + lo;
		while (GSController.GetTick() < until && GSVehicle.IsValidVehicle(v)) {
			local tile = GSVehicle.GetLocation(v);
			if (GSMap.IsValidTile(tile)) GSViewport.ScrollTo(tile);
			Sleep(8);
		}
	}
}
