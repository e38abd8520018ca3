"""2-D toy studies of the LIM / DLPM / Popov papers (recipes/toy2d), built on levytts.levy.

Modules: ``data`` (data sets), ``model`` (MLP ε-networks), ``train`` (training and sampling through
levytts.levy), ``metrics`` (mode ratio, MMD, MSLE, PRD F1), ``variation`` (Popov Fig. 3),
``stages`` (the recipe's stages), ``cli`` (`levytts toy2d`).
"""
