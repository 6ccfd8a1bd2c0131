// Appended to the Warzone 2100 challenge's "extra" script (run as player 0, after player 0's AI is
// included): a camera director. Every 15 s the camera follows another unit, usually the one
// closest to the other side's units (where the fighting is), sometimes a random one for variety;
// Warzone's sound is positional, so the sound follows the picture. Names start with "foley" so
// they cannot clash with the included AI's globals.
var foleyLastTarget = -1;
// cyborg engineers are not a droid type of their own in every version (4.3.3 has no such constant)
var foleyCyborgConstruct = (typeof DROID_CYBORG_CONSTRUCT === "undefined") ? -1 : DROID_CYBORG_CONSTRUCT;

function foleyDistanceToEnemy(d) {
	var best = Infinity;
	var others = enumDroid(1 - d.player);
	for (var i = 0; i < others.length; ++i) {
		best = Math.min(best, distBetweenTwoPoints(d.x, d.y, others[i].x, others[i].y));
	}
	return best;
}

function foleyDirector() {
	var pool = [];
	for (var p = 0; p < 2; ++p) {
		var ds = enumDroid(p);
		for (var i = 0; i < ds.length; ++i) {
			if (ds[i].droidType !== DROID_CONSTRUCT && ds[i].droidType !== foleyCyborgConstruct) { pool.push(ds[i]); }
		}
	}
	if (pool.length === 0) { pool = enumDroid(0).concat(enumDroid(1)); }
	if (pool.length === 0) { return; }
	var pick = pool[Math.floor(Math.random() * pool.length)];
	if (Math.random() < 0.7) {
		var bestDist = Infinity;
		for (var j = 0; j < pool.length; ++j) {
			var dist = foleyDistanceToEnemy(pool[j]);
			if (dist < bestDist && pool[j].id !== foleyLastTarget) { bestDist = dist; pick = pool[j]; }
		}
	}
	foleyLastTarget = pick.id;
	cameraTrack(pick);
	debug("foleyDirector t=" + gameTime + " follows player " + pick.player + " droid " + pick.id + " (" + pool.length + " candidates)");
}

var foleyIncludedStartLevel = eventStartLevel;
eventStartLevel = function() {
	foleyIncludedStartLevel();
	hideInterface();  // no command buttons or panels over the picture (the minimap and power bar stay)
	setTimer("foleyDirector", 15000);
};
