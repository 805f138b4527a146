package apply

// Compared is how many times a's Apply compared a child in full (not answered by the memo).
func (a *Applier) Compared() int64 { return a.compared.Load() }
